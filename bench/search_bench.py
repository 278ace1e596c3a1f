"""Gallery search benchmark: single-query latency and memory of ExactIndex (faiss) and NumpyIndex, optionally IVF.

    python bench/search_bench.py [--sizes 10000,100000,1000000] [--ivf-size 1000000] [--threads N] [--out bench/results]

Synthetic galleries (identities with 1-5 photos each, see workers/index/synthetic.py); queries are new
photos of people in the gallery. If bench/results/.cache_sface.npz exists its embeddings are measured too.
Writes <out>/search.json and <out>/search.md.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.matching.index import ExactIndex, GalleryIndex, IVFIndex, NumpyIndex, nlist_for, nprobe_for  # noqa: E402
from service.matching.index.synthetic import SyntheticGallery, synthetic_gallery  # noqa: E402

K = 10
# Real embeddings cached by the face engine's calibration run, measured when present: engine -> (file, metric).
REAL_EMBEDDINGS = {
    "sface": (ROOT / "bench" / "results" / ".cache_sface.npz", "cosine"),
    "dlib": (ROOT / "bench" / "results" / ".cache_dlib.npz", "euclidean"),
}
# One face in five belongs to a case (an earlier arrival), the rest to missing-person reports.
CASE_EVERY = 5
# IVF is fed in refresh-sized chunks so it trains at its train_size, as it would in the cache.
IVF_ADD_CHUNK = 250_000


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(samples_ms, 50)), 3),
        "p95_ms": round(float(np.percentile(samples_ms, 95)), 3),
    }


def time_single_queries(
    search: Callable[[NDArray[np.float32]], object], queries: NDArray[np.float32], warmup: int
) -> dict[str, float]:
    for q in queries[:warmup]:
        search(q)
    samples = []
    for q in queries[warmup:]:
        started = time.perf_counter()
        search(q)
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def fill(index: GalleryIndex, vectors: NDArray[np.float32], owners: NDArray[np.int64], chunk: int | None = None) -> None:
    n = len(vectors)
    step = chunk or n
    for start in range(0, n, step):
        stop = min(n, start + step)
        ids = np.arange(start, stop)
        kinds = np.where(ids % CASE_EVERY == 0, "case", "report").tolist()
        index.add(ids, kinds, owners[start:stop], vectors[start:stop])


def measure_backend(
    name: str, index: GalleryIndex, vectors: NDArray[np.float32], owners: NDArray[np.int64],
    queries: NDArray[np.float32], warmup: int,
) -> dict[str, Any]:
    n = len(vectors)
    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    fill(index, vectors, owners)
    build_s = time.perf_counter() - started
    gc.collect()
    rss_delta = rss_bytes() - before
    memory = index.memory_bytes()
    row: dict[str, Any] = {
        "backend": name,
        "metric": index.metric,
        "n": n,
        "build_s": round(build_s, 2),
        "memory_bytes": memory,
        "rss_delta_bytes": rss_delta,
        "memory_bytes_per_million": round(memory / n * 1e6),
        "rss_delta_per_million": round(rss_delta / n * 1e6),
    }
    row.update(time_single_queries(lambda q: index.search(q, K), queries, warmup))
    # The everyday filtered call: reports only, never the probe's own case.
    filtered = time_single_queries(lambda q: index.search(q, K, kind="report", exclude_owner=("case", 1)), queries, warmup)
    row["filtered_p50_ms"], row["filtered_p95_ms"] = filtered["p50_ms"], filtered["p95_ms"]
    started = time.perf_counter()
    index.search_many(queries[warmup:], K)
    row["batch_qps"] = round((len(queries) - warmup) / (time.perf_counter() - started), 1)
    return row


def synthetic_rows(gallery: SyntheticGallery, sizes: list[int], n_queries: int, warmup: int, metric: str) -> list[dict]:
    rows = []
    for n in sizes:
        part = SyntheticGallery(gallery.vectors[:n], gallery.identity_of[:n], gallery.centres)
        queries, _ = part.probes(n_queries + warmup, seed=n)
        for name, cls in (("exact-faiss", ExactIndex), ("numpy", NumpyIndex)):
            index = cls(metric)
            row = measure_backend(name, index, part.vectors, part.identity_of, queries, warmup)
            row["data"] = "synthetic"
            rows.append(row)
            print(_line(row), flush=True)
            del index
            gc.collect()
    return rows


def load_real(path: Path) -> NDArray[np.float32]:
    """The embeddings in a cache file, without the all-zero rows of photos where no face was found."""
    with np.load(path) as data:
        key = next((k for k in ("embeddings", "vectors") if k in data.files), data.files[0])
        vectors = np.asarray(data[key], np.float32).reshape(len(data[key]), -1)
    return vectors[np.linalg.norm(vectors, axis=1) > 0]


def pair_cosines(vectors: NDArray[np.float32], limit: int = 2000) -> dict[str, float]:
    """Cosine over all pairs of up to `limit` faces: mostly different people, so the impostor spread."""
    unit = vectors[:limit] / np.linalg.norm(vectors[:limit], axis=1, keepdims=True)
    cos = (unit @ unit.T)[np.triu_indices(len(unit), 1)]
    return {"mean": round(float(cos.mean()), 3), "std": round(float(cos.std()), 3), "p99": round(float(np.percentile(cos, 99)), 3)}


def real_rows(engine: str, path: Path, metric: str, n_queries: int, warmup: int) -> list[dict]:
    """Measure on real embeddings: 90% gallery, the rest queries (each face its own owner)."""
    vectors = load_real(path)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(vectors))
    n_q = min(n_queries + warmup, max(2, len(vectors) // 10))
    queries, gallery = vectors[order[:n_q]], vectors[order[n_q:]]
    rows = []
    for name, cls in (("exact-faiss", ExactIndex), ("numpy", NumpyIndex)):
        index = cls(metric, dim=vectors.shape[1])
        row = measure_backend(name, index, gallery, np.arange(len(gallery)), queries, min(warmup, n_q // 2))
        row["data"] = f"real {engine}"
        rows.append(row)
        print(_line(row), flush=True)
    return rows


def ivf_rows(n: int, n_queries: int, warmup: int, metric: str, gallery: SyntheticGallery | None) -> list[dict]:
    """IVF at size n with default nlist, several nprobe: latency and recall vs brute force."""
    if gallery is None or len(gallery.vectors) < n:
        gallery = synthetic_gallery(n)
    part = SyntheticGallery(gallery.vectors[:n], gallery.identity_of[:n], gallery.centres)
    queries, who = part.probes(n_queries + warmup, seed=7)
    # Synthetic vectors are unit length, so cosine brute force ranks as euclidean would too.
    truth = brute_force_topk(part.vectors, queries, K)
    nlist = nlist_for(n)
    index = IVFIndex(metric, nlist=nlist)
    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    fill(index, part.vectors, part.identity_of, chunk=IVF_ADD_CHUNK)
    build_s = time.perf_counter() - started
    gc.collect()
    rss_delta = rss_bytes() - before
    rows = []
    default = nprobe_for(nlist)
    for nprobe in sorted({max(1, default // 4), max(1, default // 2), default, min(nlist, default * 2)}):
        index.nprobe = nprobe
        row: dict[str, Any] = {
            "backend": "ivf-faiss", "data": "synthetic", "n": n, "nlist": nlist, "nprobe": nprobe,
            "nprobe_default": nprobe == default, "train_size": index.train_size, "build_s": round(build_s, 2),
            "memory_bytes": index.memory_bytes(), "rss_delta_bytes": rss_delta,
            "memory_bytes_per_million": round(index.memory_bytes() / n * 1e6),
            "rss_delta_per_million": round(rss_delta / n * 1e6),
        }
        row.update(time_single_queries(lambda q: index.search(q, K), queries, warmup))
        found = index.search_many(queries[warmup:], K)
        pairs = list(zip(found, truth[warmup:], who[warmup:]))
        row["recall_at_10"] = round(float(np.mean([len({h.face_id for h in hits} & set(t)) / K for hits, t, _ in pairs])), 4)
        row["recall_at_1"] = round(float(np.mean([bool(hits) and hits[0].face_id == t[0] for hits, t, _ in pairs])), 4)
        # What matters to a family: is a photo of the right person among the ten shown?
        row["identity_in_top10"] = round(float(np.mean([any(part.identity_of[h.face_id] == w for h in hits) for hits, _, w in pairs])), 4)
        rows.append(row)
        print(_line(row), flush=True)
    return rows


def brute_force_topk(vectors: NDArray[np.float32], queries: NDArray[np.float32], k: int) -> list[list[int]]:
    """Exact cosine top-k by chunked matrix products over the raw gallery (no second copy of it)."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    best_s = np.full((len(q), 0), -np.inf, np.float32)
    best_i = np.empty((len(q), 0), np.int64)
    for start in range(0, len(vectors), 1_000_000):
        scores = q @ vectors[start : start + 1_000_000].T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        best_s = np.concatenate([best_s, np.take_along_axis(scores, top, axis=1)], axis=1)
        best_i = np.concatenate([best_i, top + start], axis=1)
        keep = np.argsort(-best_s, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(best_s, keep, axis=1), np.take_along_axis(best_i, keep, axis=1)
    return best_i.tolist()


def write_results(out: Path, name: str, result: dict, text: str) -> None:
    """<out>/<name>.json and <name>.md, and a line saying where."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / f"{name}.md").write_text(text)
    print(f"event=bench_done name={name} runtime_s={result['runtime_s']} out={out}", flush=True)


def environment(threads: int) -> dict[str, Any]:
    try:
        blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    except Exception:  # the report still matters more than the BLAS name
        blas = {}
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "faiss": faiss.__version__,
        "numpy_blas": blas.get("name"),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "faiss_omp_threads": threads,
        "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))},
        # The host may be shared: a busy neighbour shows up here and in the p95 column.
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
        "k": K,
    }


def _line(row: dict) -> str:
    extra = f" nprobe={row['nprobe']} recall@10={row['recall_at_10']}" if "nprobe" in row else ""
    return (
        f"backend={row['backend']} n={row['n']} p50_ms={row['p50_ms']} p95_ms={row['p95_ms']} "
        f"build_s={row['build_s']} mem_per_M={row['memory_bytes_per_million']} rss_per_M={row['rss_delta_per_million']}{extra}"
    )


def markdown(result: dict) -> str:
    env = result["environment"]
    lines = [
        "# Gallery search benchmark",
        "",
        f"`{' '.join(['python bench/search_bench.py', *result['argv']])}` — {result['finished_at']}, {result['runtime_s']} s.",
        "",
        f"{env['cpu']}, {env['cpu_count']} cores; faiss {env['faiss']} with {env['faiss_omp_threads']} OpenMP threads; "
        f"numpy {env['numpy']} ({env['numpy_blas']}); env {env['env'] or '{}'}; "
        f"load average {env['loadavg_1m_at_start']} at start, {env['loadavg_1m_at_end']} at end. Synthetic metric {result['metric']}, k={env['k']}, "
        f"{result['queries']} single queries after {result['warmup']} warm-up. Memory per million faces: "
        "`memory_bytes()` (vectors, ids, owners; faiss hash map estimated) and the measured RSS growth while adding.",
        "",
        "| data | backend | faces | p50 ms | p95 ms | filtered p50 / p95 ms | batch q/s | build s | bytes/M (memory_bytes) | bytes/M (RSS Δ) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['data']} ({r['metric']}) | {r['backend']} | {r['n']:,} | {r['p50_ms']} | {r['p95_ms']} | "
            f"{r['filtered_p50_ms']} / {r['filtered_p95_ms']} | {r['batch_qps']} | {r['build_s']} | "
            f"{r['memory_bytes_per_million'] / 1e6:.0f} MB | {r['rss_delta_per_million'] / 1e6:.0f} MB |"
        )
    if result["ivf"]:
        lines += [
            "",
            "## IVF (IndexIVFFlat), recall vs brute force",
            "",
            "| faces | nlist | nprobe | p50 ms | p95 ms | recall@10 | recall@1 | right person in top 10 | build s | bytes/M (memory_bytes) | bytes/M (RSS Δ) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in result["ivf"]:
            mark = " (default)" if r["nprobe_default"] else ""
            lines.append(
                f"| {r['n']:,} | {r['nlist']} | {r['nprobe']}{mark} | {r['p50_ms']} | {r['p95_ms']} | {r['recall_at_10']} | "
                f"{r['recall_at_1']} | {r['identity_in_top10']} | {r['build_s']} | "
                f"{r['memory_bytes_per_million'] / 1e6:.0f} MB | {r['rss_delta_per_million'] / 1e6:.0f} MB |"
            )
    if result["notes"]:
        lines += ["", *[f"- {note}" for note in result["notes"]]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated gallery sizes")
    parser.add_argument("--ivf-size", type=int, default=0, help="also measure IVF at this size (0: skip)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--metric", choices=["cosine", "euclidean"], default="cosine")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="faiss OpenMP threads")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    # faiss threads come from the option; BLAS threads stay as the environment set them.
    faiss.omp_set_num_threads(args.threads)
    started = time.perf_counter()
    load_at_start = round(os.getloadavg()[0], 2)

    notes = ["RSS Δ means something from ~1M faces up; below that heap reuse and page granularity hide it."]
    gallery = synthetic_gallery(max(sizes)) if sizes else None
    rows = synthetic_rows(gallery, sizes, args.queries, args.warmup, args.metric) if gallery else []
    if gallery is not None:
        notes.append(f"Synthetic pair cosine (mostly different people): {pair_cosines(gallery.vectors)}.")
    for engine, (path, metric) in REAL_EMBEDDINGS.items():
        if not path.exists():
            notes.append(f"No real {engine} embeddings ({path.relative_to(ROOT)} absent).")
            continue
        rows += real_rows(engine, path, metric, args.queries, args.warmup)
        notes.append(
            f"Real {engine} ({len(load_real(path))} faces, {metric}; too few for latency to mean much) "
            f"pair cosine: {pair_cosines(load_real(path))}."
        )
    ivf = ivf_rows(args.ivf_size, args.queries, args.warmup, args.metric, gallery) if args.ivf_size else []

    result = {
        "argv": argv if argv is not None else sys.argv[1:],
        "finished_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "runtime_s": round(time.perf_counter() - started, 1),
        "metric": args.metric,
        "queries": args.queries,
        "warmup": args.warmup,
        "environment": {**environment(args.threads), "loadavg_1m_at_start": load_at_start},
        "rows": rows,
        "ivf": ivf,
        "notes": notes,
    }
    write_results(args.out, "search", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
