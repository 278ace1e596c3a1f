"""The gallery index interface; owners, filters, validation and persistence shared by every backend."""
from __future__ import annotations

import json
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .owners import KINDS, NO_STATION, Kind, OwnerTable, kind_code
from .selector import KindBits, Selector

Metric = Literal["cosine", "euclidean"]
METRICS: tuple[Metric, ...] = ("cosine", "euclidean")
DIM = 128
FORMAT_VERSION = 1
META_FILE = "meta.json"
OWNERS_FILE = "owners.npz"

# Backends without an in-search filter (selector.py) filter the results: a filtered search first fetches
# k * OVERFETCH candidates and, while some query still has fewer than k survivors, fetches WIDEN times more.
OVERFETCH = 4
WIDEN = 4


@dataclass(frozen=True, slots=True)
class Hit:
    face_id: int
    kind: Kind
    owner_id: int
    distance: float


@dataclass(frozen=True, slots=True)
class _Filter:
    kind: int | None
    exclude_owner: tuple[int, int] | None
    exclude_face_ids: NDArray[np.int64]

    @classmethod
    def build(
        cls,
        kind: Kind | None,
        exclude_owner: tuple[Kind, int] | None,
        exclude_face_ids: Collection[int] | None,
    ) -> _Filter | None:
        if kind is None and exclude_owner is None and (exclude_face_ids is None or len(exclude_face_ids) == 0):
            return None
        return cls(
            kind=None if kind is None else kind_code(kind),
            exclude_owner=None if exclude_owner is None else (kind_code(exclude_owner[0]), int(exclude_owner[1])),
            exclude_face_ids=np.fromiter(exclude_face_ids if exclude_face_ids is not None else (), np.int64),
        )


class GalleryIndex(ABC):
    """Top-k face search over embeddings owned by reports and cases. Not thread-safe: see IndexCache."""

    type_name: ClassVar[str]
    # The backend filters inside its search (a faiss IDSelector: _search_vectors' `selector`).
    selects: ClassVar[bool] = False

    def __init__(self, metric: Metric = "cosine", dim: int = DIM) -> None:
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        self.metric: Metric = metric
        self.dim = dim
        self._owners = OwnerTable()
        self._kind_bits = KindBits()

    # -- backend hooks: vectors arrive validated (float32, C-contiguous, normalised for cosine)

    @abstractmethod
    def _add_vectors(self, face_ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None: ...

    @abstractmethod
    def _remove_vectors(self, face_ids: NDArray[np.int64]) -> None: ...

    @abstractmethod
    def _search_vectors(
        self, queries: NDArray[np.float32], fetch: int, selector: Selector | None = None
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """(distances ascending, face_ids) of shape (nq, fetch), only faces `selector` keeps; id -1 pads a short row."""

    @abstractmethod
    def _stored_count(self) -> int:
        """How many vectors the backend holds (checked against the owners on load)."""

    @abstractmethod
    def _vector_bytes(self) -> int: ...

    @abstractmethod
    def _save_vectors(self, directory: Path) -> None: ...

    @abstractmethod
    def _load_vectors(self, directory: Path) -> None: ...

    def _params(self) -> dict[str, Any]:
        """Constructor keywords beyond metric and dim, written to meta.json."""
        return {}

    # -- public API

    def __len__(self) -> int:
        return len(self._owners)

    def __contains__(self, face_id: object) -> bool:
        if not isinstance(face_id, (int, np.integer)):
            return False
        return bool(self._owners.contains(np.array([face_id], np.int64))[0])

    def memory_bytes(self) -> int:
        """Bytes held by vectors, ids and owners (faiss internals estimated where not exposed)."""
        return self._vector_bytes() + self._owners.nbytes()

    def add(
        self,
        face_ids: ArrayLike,
        kinds: Iterable[Kind],
        owner_ids: ArrayLike,
        vectors: ArrayLike,
        *,
        station_ids: Iterable[int | None] | None = None,
    ) -> int:
        """Add faces; a face_id already present is replaced (a re-encoded photo). Returns how many."""
        ids = _as_ids(face_ids)
        matrix = self._prepare(vectors)
        codes = np.fromiter((kind_code(k) for k in kinds), np.int8)
        owners = np.asarray(owner_ids, np.int64).reshape(-1)
        given = station_ids if station_ids is not None else [None] * len(ids)
        stations = np.fromiter((NO_STATION if s is None else s for s in given), np.int64)
        if not len(ids) == len(matrix) == len(codes) == len(owners) == len(stations):
            raise ValueError(
                f"length mismatch: face_ids={len(ids)} vectors={len(matrix)} kinds={len(codes)} "
                f"owner_ids={len(owners)} station_ids={len(stations)}"
            )
        if len(ids) == 0:
            return 0
        if len(np.unique(ids)) != len(ids):
            raise ValueError("duplicate face_id in one add")
        present = ids[self._owners.contains(ids)]
        if present.size:
            self.remove(present)
        self._add_vectors(ids, matrix)
        self._owners.add(ids, codes, owners, stations)
        self._kind_bits.add(ids, codes)
        return len(ids)

    def remove(self, face_ids: ArrayLike) -> int:
        """Remove faces by id; unknown ids are ignored. Returns how many were removed."""
        ids = np.unique(_as_ids(face_ids))
        ids = ids[self._owners.contains(ids)]
        if ids.size == 0:
            return 0
        self._remove_vectors(ids)
        self._owners.remove(ids)
        self._kind_bits.remove(ids)
        return int(ids.size)

    def remove_owner(self, kind: Kind, owner_id: int) -> int:
        """Remove every face of one report or case (closed, found, retention expired)."""
        return self.remove(self._owners.ids_of_owner(kind_code(kind), int(owner_id)))

    def face_ids_of(self, kind: Kind, owner_id: int) -> list[int]:
        """The face_ids indexed for one owner."""
        return self._owners.ids_of_owner(kind_code(kind), int(owner_id)).tolist()

    def search(
        self,
        vector: ArrayLike,
        k: int,
        *,
        kind: Kind | None = None,
        exclude_owner: tuple[Kind, int] | None = None,
        exclude_face_ids: Collection[int] | None = None,
    ) -> list[Hit]:
        """The k nearest faces to one embedding, nearest first, after the filters."""
        query = np.asarray(vector, np.float32).reshape(1, -1)
        return self.search_many(
            query, k, kind=kind, exclude_owner=exclude_owner, exclude_face_ids=exclude_face_ids
        )[0]

    def search_many(
        self,
        matrix: ArrayLike,
        k: int,
        *,
        kind: Kind | None = None,
        exclude_owner: tuple[Kind, int] | None = None,
        exclude_face_ids: Collection[int] | None = None,
    ) -> list[list[Hit]]:
        """search() for each row of an (nq, dim) matrix, in one batched backend call."""
        queries = self._prepare(matrix)
        flt = _Filter.build(kind, exclude_owner, exclude_face_ids)
        n = len(self)
        results: list[list[Hit]] = [[] for _ in range(len(queries))]
        if k <= 0 or n == 0 or len(queries) == 0:
            return results
        if flt is not None and self.selects:
            selector = self._selector(flt)
            distances, ids = self._search_vectors(queries, min(n, k), selector)
            return [self._hits(distances[row], ids[row], k, None)[0] for row in range(len(queries))]
        fetch = min(n, k if flt is None else k * OVERFETCH)
        pending = np.arange(len(queries))
        while pending.size:
            distances, ids = self._search_vectors(queries[pending], fetch)
            short: list[int] = []
            for row, q in enumerate(pending):
                hits, exhausted = self._hits(distances[row], ids[row], k, flt)
                results[q] = hits
                # A padded row (IVF probed lists ran out) cannot get longer by fetching more.
                if len(hits) < k and fetch < n and not exhausted:
                    short.append(int(q))
            pending = np.asarray(short, np.intp)
            fetch = min(n, fetch * WIDEN)
        return results

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a directory (vectors, owners.npz, meta.json), replacing an older one whole."""
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        old = target.with_name(target.name + ".old")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self._save_vectors(tmp)
        self._owners.save(tmp / OWNERS_FILE)
        meta = {
            "format": FORMAT_VERSION,
            "type": self.type_name,
            "metric": self.metric,
            "dim": self.dim,
            "count": len(self),
            "params": self._params(),
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1))
        # Readers never see a half-written index: the complete directory is renamed into place.
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        directory = Path(path)
        meta = read_meta(directory)
        if meta["type"] != cls.type_name:
            raise ValueError(f"{directory} holds a {meta['type']!r} index, not {cls.type_name!r}")
        index = cls(metric=meta["metric"], dim=meta["dim"], **meta["params"])
        index._load_vectors(directory)
        index._owners = OwnerTable.load(directory / OWNERS_FILE)
        if index._stored_count() != len(index._owners):
            raise ValueError(
                f"{directory} is inconsistent: vectors={index._stored_count()} owners={len(index._owners)}"
            )
        return index

    # -- helpers

    def _prepare(self, vectors: ArrayLike) -> NDArray[np.float32]:
        matrix = np.asarray(vectors, np.float32)
        if matrix.ndim == 1 and matrix.size == 0 or matrix.ndim == 2 and matrix.shape[0] == 0:
            return np.empty((0, self.dim), np.float32)
        if matrix.ndim == 1:
            matrix = matrix.reshape(1, -1)
        if matrix.ndim != 2 or matrix.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {matrix.shape}")
        if not np.isfinite(matrix).all():
            raise ValueError("vectors must be finite")
        if self.metric == "cosine":
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            if not norms.all():
                raise ValueError("a zero vector has no direction for cosine")
            matrix = matrix / norms
        return np.ascontiguousarray(matrix, np.float32)

    def _selector(self, flt: _Filter) -> Selector:
        excluded = flt.exclude_face_ids
        if flt.exclude_owner is not None:
            excluded = np.concatenate([excluded, self._owners.ids_of_owner(*flt.exclude_owner)])
        bits = None if flt.kind is None else self._kind_bits.of(flt.kind, self._owners)
        return Selector(bits, excluded)

    def _hits(
        self, distances: NDArray[np.float32], ids: NDArray[np.int64], k: int, flt: _Filter | None
    ) -> tuple[list[Hit], bool]:
        valid = ids >= 0
        exhausted = not bool(valid.all())
        ids, distances = ids[valid], distances[valid]
        pos = self._owners.positions(ids)
        kinds = self._owners.kinds[pos]
        owners = self._owners.owner_ids[pos]
        if flt is not None:
            keep = np.ones(len(ids), bool)
            if flt.kind is not None:
                keep &= kinds == flt.kind
            if flt.exclude_owner is not None:
                keep &= ~((kinds == flt.exclude_owner[0]) & (owners == flt.exclude_owner[1]))
            if flt.exclude_face_ids.size:
                keep &= ~np.isin(ids, flt.exclude_face_ids)
            ids, distances, kinds, owners = ids[keep], distances[keep], kinds[keep], owners[keep]
        # Ties break by face_id so every backend and every shard merge agree on the order.
        order = np.lexsort((ids, distances))[:k]
        hits = [
            Hit(int(ids[i]), KINDS[kinds[i]], int(owners[i]), float(max(distances[i], 0.0)))
            for i in order
        ]
        return hits, exhausted


def read_meta(directory: Path) -> dict[str, Any]:
    meta = json.loads((directory / META_FILE).read_text())
    if meta.get("format") != FORMAT_VERSION:
        raise ValueError(f"{directory}: unsupported index format {meta.get('format')!r}")
    return meta


def _as_ids(face_ids: ArrayLike) -> NDArray[np.int64]:
    ids = np.asarray(face_ids, np.int64).reshape(-1)
    # faiss reserves -1 for "no result".
    if ids.size and ids.min() < 0:
        raise ValueError("face_id must be >= 0")
    return ids
