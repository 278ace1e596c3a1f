"""IVFIndex: faiss inverted-file search, exact (flat) until the gallery is large enough to train on."""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

from .base import DIM, GalleryIndex, Metric
from .exact import VECTORS_FILE, faiss_metric, flat_bytes, flat_view, new_flat, search_params, to_distances
from .selector import Selector

log = logging.getLogger(__name__)

# k-means wants >= 39 points a centroid (faiss warns below); 64 gives steadier centroids.
TRAIN_PER_LIST = 64
# faiss samples at most 256 points a centroid anyway; sampling here spares a copy of the gallery.
MAX_TRAIN_PER_LIST = 256
# Vectors go to the lists straight from the flat index's memory, chunk by chunk: no third copy.
MOVE_CHUNK = 100_000


def nlist_for(n_expected: int) -> int:
    """About sqrt(n) lists: lists of ~sqrt(n) faces keep training and probing cheap at 2-20M faces."""
    return int(min(65536, max(64, math.sqrt(max(n_expected, 1)))))


def nprobe_for(nlist: int) -> int:
    """Probe 1/5 of the lists: recall beats speed when a miss is a person not found.

    IVF switches on above EXACT_LIMIT faces a shard. At 2.5M faces (nlist 1581, bench/results/shards.md)
    1/8 of the lists gave recall@10 0.971 vs exact, 1/6 0.986, 1/5 0.993 at ~15 ms of one core a query;
    recall at a fixed fraction grows with the gallery (1/8 gave 0.9925 at 10M), so 1/5 keeps >= 0.99 above.
    """
    return int(min(nlist, max(16, nlist // 5)))


class IVFIndex(GalleryIndex):
    """faiss IndexIVFFlat scanning nprobe of nlist lists; below train_size faces it is a flat exact index."""

    type_name = "ivf"
    selects = True

    def __init__(
        self,
        metric: Metric = "cosine",
        dim: int = DIM,
        *,
        nlist: int = 1024,
        nprobe: int | None = None,
        train_size: int | None = None,
    ) -> None:
        super().__init__(metric, dim)
        self.nlist = nlist
        self.train_size = train_size if train_size is not None else TRAIN_PER_LIST * nlist
        if self.train_size < nlist:
            raise ValueError(f"train_size={self.train_size} is below nlist={nlist}")
        self._nprobe = min(nlist, nprobe if nprobe is not None else nprobe_for(nlist))
        self._flat: faiss.IndexIDMap2 | None = new_flat(metric, dim)
        self._ivf: faiss.IndexIVFFlat | None = None

    @property
    def trained(self) -> bool:
        return self._ivf is not None

    @property
    def nprobe(self) -> int:
        return self._nprobe

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        self._nprobe = max(1, min(self.nlist, int(value)))
        if self._ivf is not None:
            self._ivf.nprobe = self._nprobe

    def _params(self) -> dict[str, Any]:
        return {"nlist": self.nlist, "nprobe": self._nprobe, "train_size": self.train_size}

    def _active(self) -> faiss.Index:
        return self._ivf if self._ivf is not None else self._flat

    def _add_vectors(self, face_ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        if self._ivf is not None:
            self._ivf.add_with_ids(vectors, face_ids)
            return
        assert self._flat is not None
        self._flat.add_with_ids(vectors, face_ids)
        if self._flat.ntotal > self.train_size:
            self._train()

    def _train(self) -> None:
        assert self._flat is not None
        started = time.perf_counter()
        face_ids, vectors = flat_view(self._flat)
        # Fixed seeds: the same gallery always trains the same lists (reproducible recall).
        rng = np.random.default_rng(1234)
        n_train = min(len(face_ids), MAX_TRAIN_PER_LIST * self.nlist)
        sample = vectors[np.sort(rng.choice(len(face_ids), n_train, replace=False))]
        quantizer = faiss.IndexFlatIP(self.dim) if self.metric == "cosine" else faiss.IndexFlatL2(self.dim)
        ivf = faiss.IndexIVFFlat(quantizer, self.dim, self.nlist, faiss_metric(self.metric))
        ivf.cp.seed = 1234
        ivf.train(sample)
        del sample
        for start in range(0, len(face_ids), MOVE_CHUNK):
            ivf.add_with_ids(vectors[start : start + MOVE_CHUNK], face_ids[start : start + MOVE_CHUNK])
        ivf.nprobe = self._nprobe
        del vectors
        self._ivf, self._flat = ivf, None
        log.info(
            "event=ivf_trained metric=%s n=%d n_train=%d nlist=%d nprobe=%d ms=%d",
            self.metric, len(face_ids), n_train, self.nlist, self._nprobe, (time.perf_counter() - started) * 1000,
        )

    def _remove_vectors(self, face_ids: NDArray[np.int64]) -> None:
        self._active().remove_ids(face_ids)

    def _search_vectors(
        self, queries: NDArray[np.float32], fetch: int, selector: Selector | None = None
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        # The IVF parameters replace the index's own: nprobe goes along with the filter.
        params = search_params(selector, nprobe=self._nprobe) if self._ivf is not None else search_params(selector)
        raw, ids = self._active().search(queries, fetch, params=params)
        return to_distances(self.metric, raw), ids

    def _stored_count(self) -> int:
        return int(self._active().ntotal)

    def _vector_bytes(self) -> int:
        if self._ivf is None:
            assert self._flat is not None
            return flat_bytes(self._flat)
        # Inverted lists hold each vector and its id; the quantizer holds the centroids. The lists
        # grow by doubling, so RSS runs higher (the benchmark measured ~730 MB/M against ~550 here).
        return self._ivf.ntotal * (self.dim * 4 + 8) + self.nlist * self.dim * 4

    def _save_vectors(self, directory: Path) -> None:
        faiss.write_index(self._active(), str(directory / VECTORS_FILE))

    def _load_vectors(self, directory: Path) -> None:
        loaded = faiss.read_index(str(directory / VECTORS_FILE))
        if isinstance(loaded, faiss.IndexIVFFlat):
            loaded.nprobe = self._nprobe
            self._ivf, self._flat = loaded, None
        elif isinstance(loaded, faiss.IndexIDMap2):
            self._flat, self._ivf = loaded, None
        else:
            raise ValueError(f"{directory}: expected IndexIVFFlat or IndexIDMap2, got {type(loaded).__name__}")
