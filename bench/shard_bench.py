"""Sharded gallery search: shards x gallery size, measured where the machine allows and simulated beyond.

    python bench/shard_bench.py [--size 1000000] [--sim-size 10000000] [--sim-shards 4] [--out bench/results]

1. Stack at --size (1M): 1, 2 and 4 real shard workers (Celery, solo pool, private Redis as broker and result
   backend), each holding its face_id % N part of a synthetic gallery (no database: the worker's IndexCache
   loads from the same synthetic rows the database would hand it). The bench process is the coordinator:
   scatter.ShardedGallery sends the search, gathers the answers from the result backend and merges them,
   exactly as the `search` worker does. p50 / p95 of one probe (k = candidates.TOP_K), recall@10 vs exact,
   each shard worker's RSS.
2. One shard at --sim-size / --sim-shards (2.5M) in this process: exact and IVF at several nprobe
   (recall@10 vs brute force, p50 / p95, memory per million faces).
3. Overhead: the same stack with --sim-shards workers holding tiny shards (search time ~0): what Celery,
   Redis, the result backend and the merge add.
4. Simulation of --sim-size with --sim-shards shards, one machine each: a search's latency is the slowest of
   its shards plus the overhead, so each simulated search draws one per-shard sample (2) for each shard
   and one overhead sample (3): latency = max(shard samples) + overhead sample. p50 / p95 over 100k draws.
Writes <out>/shards.json and <out>/shards.md.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.round_trip import breakdown, install_worker_trace, proc_cpu_ms  # noqa: E402
from bench.search_bench import brute_force_topk, environment, percentiles, rss_bytes, write_results  # noqa: E402
from service.matching.index import ExactIndex, IVFIndex, Row, merge_topk, nlist_for  # noqa: E402
from service.matching.index.synthetic import SyntheticGallery, synthetic_gallery  # noqa: E402
from service.matching.engine.sface import SFaceEngine  # noqa: E402

ENGINE = SFaceEngine.version
TOP_K = 50  # service/matching/candidates.TOP_K: what a match asks each shard for
K = 10
CASE_EVERY = 5
SEED = 11


# -- the synthetic gallery as the database would hand it to IndexCache


def loader_for(gallery: SyntheticGallery):
    """The Loader contract over the synthetic rows (face_id = row + 1): what the database would hand IndexCache."""
    n = len(gallery.vectors)

    def load(since: int, limit: int) -> list[Row]:
        start = max(0, since)  # face_id since + 1 is row since
        return [Row(i + 1, "case" if (i + 1) % CASE_EVERY == 0 else "report", int(gallery.identity_of[i]) + 1,
                    gallery.vectors[i]) for i in range(start, min(n, start + limit))]

    return load


# -- shard worker processes


def worker_main(args: argparse.Namespace) -> int:
    """A shard worker: its part of the synthetic gallery in scatter's cache, then a real Celery worker."""
    from service import create_app
    from service.extensions import celery
    from service.matching import scatter
    import workers.tasks  # noqa: F401  (registers search_shard)

    app = create_app()
    gallery = synthetic_gallery(args.n, seed=SEED)
    # The worker's own cache, filled through the loader as the database would fill it (shard filter included).
    cache = scatter.shard_cache(ENGINE, "cosine", args.shard, args.count)
    cache._load = loader_for(gallery)
    cache.refresh()
    cache._load = lambda since, limit: []  # frees the gallery; a bench shard never rebuilds
    del gallery
    gc.collect()
    print(f"event=bench_shard_ready shard={args.shard} count={args.count} faces={len(cache)} "
          f"type={cache.index_type()}", flush=True)
    if args.trace:
        install_worker_trace(Path(args.trace))
    pool = ["-P", "solo"] if args.pool == "solo" else ["-P", "prefork", "-c", "1"]
    with app.app_context():
        celery.worker_main(["worker", *pool, "-Q", f"search.{args.shard}", "-n", f"bench{args.shard}@%h",
                            "-l", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"])
    return 0


class Workers:
    def __init__(self, env: dict, n: int, count: int, logdir: Path, pool: str = "solo", trace: bool = False):
        self.procs = []
        self.traces = [logdir / f"trace{count}-{k}.json" for k in range(count)] if trace else []
        for k in range(count):
            log = open(logdir / f"shard{count}-{k}.log", "w")
            extra = ["--pool", pool] + (["--trace", str(self.traces[k])] if trace else [])
            self.procs.append((subprocess.Popen(
                [sys.executable, __file__, "worker", "--shard", str(k), "--count", str(count), "--n", str(n), *extra],
                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True), log))

    def cpu_ms(self) -> float:
        """CPU of every shard worker process (a prefork pool's child included), summed."""
        total = 0.0
        for proc, _ in self.procs:
            pids = [proc.pid, *(int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split())]
            total += sum(proc_cpu_ms(pid) for pid in pids)
        return total

    def trace_rows(self) -> dict[str, dict]:
        rows: dict[str, dict] = {}
        for path in self.traces:
            if path.exists():
                rows.update(json.loads(path.read_text()))
        return rows

    def wait_ready(self, logdir: Path, count: int, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        for k, (proc, _) in enumerate(self.procs):
            path = logdir / f"shard{count}-{k}.log"
            while "bench_shard_ready" not in path.read_text() or "ready." not in path.read_text():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"shard worker {k} did not start:\n{path.read_text()[-2000:]}")
                time.sleep(0.5)

    def rss_mb(self) -> list[float]:
        out = []
        for proc, _ in self.procs:
            with open(f"/proc/{proc.pid}/status") as fh:
                kb = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS"))
            out.append(round(kb / 1024, 1))
        return out

    def stop(self) -> None:
        for proc, log in self.procs:
            try:
                os.killpg(proc.pid, 15)
                proc.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, 9)
            log.close()


def stack_rows(env: dict, n: int, counts: list[int], queries: np.ndarray, truth: list[list[int]], warmup: int,
               logdir: Path) -> list[dict]:
    from service import create_app
    from service.matching.scatter import ShardedGallery

    app = create_app()
    rows = []
    for count in counts:
        workers = Workers(env, n, count, logdir)
        try:
            workers.wait_ready(logdir, count)
            gallery = ShardedGallery(ENGINE, "cosine", count, budget_seconds=30.0)
            with app.app_context():
                samples, found = timed(gallery.search, queries, warmup)
            assert not gallery.missing, gallery.missing
            row = {"faces": n, "shards": count, "faces_per_shard": n // count, **percentiles(samples),
                   "recall_at_10": recall(found, truth[warmup:]), "shard_rss_mb": workers.rss_mb(),
                   "loadavg_1m": round(os.getloadavg()[0], 2),
                   "samples_ms": [round(s, 3) for s in samples]}
        finally:
            workers.stop()
        print(f"event=stack n={n} shards={count} p50={row['p50_ms']} p95={row['p95_ms']} "
              f"recall@10={row['recall_at_10']} rss={row['shard_rss_mb']}", flush=True)
        rows.append(row)
    return rows


class PollingGallery:
    """The coordinator before pub/sub, for comparison: the backend's MGET polled every 3 ms, each answer DEL'd."""

    @staticmethod
    def make(count: int):
        from celery.exceptions import TimeoutError as ResultTimeout

        from service.extensions import celery
        from service.matching.scatter import ShardedGallery

        class Polling(ShardedGallery):
            def _gather(self, sent, results):
                answers = {}
                try:
                    for task_id, meta in celery.backend.get_many(set(sent), timeout=self.budget_seconds, interval=0.003):
                        self.trace.append(("answer", task_id, time.time()))
                        answers[sent[task_id]] = meta["result"]
                        celery.backend.forget(task_id)
                except ResultTimeout:
                    pass
                return answers

        return Polling(ENGINE, "cosine", count, budget_seconds=30.0)


def round_trip_rows(env: dict, count: int, queries: np.ndarray, warmup: int, logdir: Path, variants: list[str],
                    redis_pid: int) -> list[dict]:
    """Tiny shards (search time ~0): the Celery round trip alone, per stage and in CPU time, per variant.

    A variant is gather:pool: gather `pubsub` (scatter.ShardedGallery as shipped) or `poll` (the MGET loop it
    replaced); pool `solo` (the task runs in the worker's consumer process) or `prefork` (one child, a pipe hop).
    """
    from service import create_app
    from service.matching.scatter import ShardedGallery

    app = create_app()
    rows = []
    for variant in variants:
        gather, pool = variant.split(":")
        workers = Workers(env, 4000, count, logdir, pool=pool, trace=pool == "solo")
        try:
            workers.wait_ready(logdir, count)
            gallery = PollingGallery.make(count) if gather == "poll" else ShardedGallery(ENGINE, "cosine", count, 30.0)
            searches = []
            with app.app_context():
                for i, q in enumerate(queries):
                    if i == warmup:
                        cpu_before = {"workers": workers.cpu_ms(), "redis": proc_cpu_ms(redis_pid)}
                    gallery.trace = []
                    start, cpu = time.time(), time.process_time()
                    gallery.search(q, TOP_K)
                    end, cpu = time.time(), (time.process_time() - cpu) * 1000
                    if i >= warmup:
                        tasks: dict[str, dict] = {}
                        for stage, task_id, t in gallery.trace:
                            tasks.setdefault(task_id, {})[stage] = t
                        searches.append({"start": start, "end": end, "cpu_ms": cpu, "tasks": tasks})
                proc_cpu = {"workers": workers.cpu_ms() - cpu_before["workers"],
                            "redis": proc_cpu_ms(redis_pid) - cpu_before["redis"]}
            assert not gallery.missing, gallery.missing
            load = round(os.getloadavg()[0], 2)
        finally:
            workers.stop()
        detail = breakdown(searches, workers.trace_rows(), proc_cpu, len(searches))
        if pool != "solo":
            detail["note"] = "prefork: the task runs in a child; its stages are not traced, its CPU is (/proc)"
        totals = [(s["end"] - s["start"]) * 1000 for s in searches]
        row = {"variant": variant, "shards": count, "faces": 4000, **percentiles(totals), "loadavg_1m": load,
               "samples_ms": [round(t, 3) for t in totals], **detail}
        print(f"event=round_trip variant={variant} p50={row['p50_ms']} p95={row['p95_ms']} load={load} "
              f"cpu_path={row.get('cpu_path_ms')}", flush=True)
        rows.append(row)
    return rows


def timed(search, queries: np.ndarray, warmup: int, cpu: list[float] | None = None) -> tuple[list[float], list[list]]:
    """Wall milliseconds and hits of one top-TOP_K search per query, after `warmup` untimed ones.

    `cpu` also collects this thread's CPU milliseconds per search: with one faiss thread the search runs in
    the calling thread, so that is what it takes on a core of its own, whatever else the host runs.
    """
    times, found = [], []
    for i, q in enumerate(queries):
        started, cpu_started = time.perf_counter(), time.thread_time()
        hits = search(q, TOP_K)
        if i >= warmup:
            times.append((time.perf_counter() - started) * 1000)
            found.append(hits)
            if cpu is not None:
                cpu.append((time.thread_time() - cpu_started) * 1000)
    return times, found


def recall(found: list[list], truth: list[list[int]]) -> float:
    # Synthetic face_id = row + 1; truth holds rows.
    return round(float(np.mean([len({h.face_id - 1 for h in hits[:K]} & set(t[:K])) / K
                                for hits, t in zip(found, truth)])), 4)


# -- one shard at the simulated size, in this process


def one_shard_rows(n_shard: int, queries: np.ndarray, warmup: int, nprobes: list[int] | None,
                   backends: tuple[str, ...] = ("exact", "ivf")) -> tuple[list[dict], dict]:
    """Exact and IVF over one shard of n_shard faces: latency, recall@10 vs brute force, memory."""
    gallery = synthetic_gallery(n_shard, seed=SEED + 1)
    truth = brute_force_topk(gallery.vectors, queries, K)
    ids = np.arange(1, n_shard + 1)
    kinds = np.where(ids % CASE_EVERY == 0, "case", "report").tolist()
    rows, samples = [], {}
    for name in backends:
        gc.collect()
        before = rss_bytes()
        started = time.perf_counter()
        index = ExactIndex("cosine") if name == "exact" else IVFIndex("cosine", nlist=nlist_for(n_shard))
        step = 250_000
        for s in range(0, n_shard, step):
            index.add(ids[s:s + step], kinds[s:s + step], gallery.identity_of[s:s + step] + 1, gallery.vectors[s:s + step])
        build_s = time.perf_counter() - started
        gc.collect()
        rss = rss_bytes() - before
        for nprobe in ([None] if name == "exact" else sorted(nprobes or [index.nprobe])):
            if nprobe is not None:
                index.nprobe = nprobe
            cpu: list[float] = []
            times, found = timed(index.search, queries, warmup, cpu)
            cpu_pct = percentiles(cpu)
            row = {"backend": name, "faces": n_shard, "nlist": getattr(index, "nlist", None), "nprobe": nprobe,
                   **percentiles(times), "cpu_p50_ms": cpu_pct["p50_ms"], "cpu_p95_ms": cpu_pct["p95_ms"],
                   "recall_at_10": recall(found, truth[warmup:]), "build_s": round(build_s, 1),
                   "loadavg_1m": round(os.getloadavg()[0], 2),
                   "memory_mb_per_million": round(index.memory_bytes() / n_shard, 1),
                   "rss_mb_per_million": round(rss / n_shard, 1)}
            samples[(name, nprobe)] = {"wall": times, "cpu": cpu}
            rows.append(row)
            print(f"event=one_shard {row}", flush=True)
        del index
        gc.collect()
    return rows, samples


def simulate(shard_samples: list[float], overhead_samples: list[float], shards: int, draws: int = 100_000) -> dict:
    rng = np.random.default_rng(0)
    per_shard = rng.choice(np.asarray(shard_samples), size=(draws, shards)).max(axis=1)
    total = per_shard + rng.choice(np.asarray(overhead_samples), size=draws)
    return {"p50_ms": round(float(np.percentile(total, 50)), 2), "p95_ms": round(float(np.percentile(total, 95)), 2),
            "slowest_shard_p95_ms": round(float(np.percentile(per_shard, 95)), 2)}


def merge_cost(shards: int, repeat: int = 2000) -> dict:
    from service.matching.index import Hit

    rng = np.random.default_rng(1)
    lists = [[Hit(int(i), "report", int(i), float(d)) for i, d in zip(rng.integers(0, 1 << 30, TOP_K), np.sort(rng.random(TOP_K)))]
             for _ in range(shards)]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        merge_topk(lists, TOP_K)
        times.append((time.perf_counter() - started) * 1000)
    return percentiles(times)


def markdown(result: dict) -> str:
    env = result["environment"]
    lines = [
        "# Sharded gallery search",
        "",
        f"`python bench/shard_bench.py {shlex.join(result['argv'])}` — {result['finished_at']}, {result['runtime_s']} s. "
        f"{env['cpu']}, {env['cpu_count']} cores, faiss {env['faiss']}; load average {result['load_at_start']} at start, "
        f"{env['loadavg_1m_at_end']} at end, and beside each latency below (other engineers' jobs share this host: "
        f"wall-clock latencies are upper bounds; the CPU-time columns do not depend on them). "
        f"One probe a search, k = {TOP_K} from each shard, {result['queries']} searches after {result['warmup']} warm-up.",
    ]
    if result["stack"]:
        lines += [
            "",
            f"## Measured: real shard workers on this machine, {result['size']:,} faces",
            "",
            "Coordinator = this process (`scatter.ShardedGallery`, as the `search` worker runs it); each shard a Celery "
            "worker process (solo pool) on a private Redis (broker and result backend). All shards share these 2 cores.",
            "",
            "| shards | faces / shard | p50 ms | p95 ms | load avg | recall@10 vs exact | RSS per shard worker (MB) |",
            "|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in result["stack"]:
            lines.append(f"| {r['shards']} | {r['faces_per_shard']:,} | {r['p50_ms']} | {r['p95_ms']} | {r.get('loadavg_1m', '')} | "
                         f"{r['recall_at_10']} | {', '.join(str(x) for x in r['shard_rss_mb'])} |")
    lines += [
        "",
        f"## One shard of {result['sim_shard_size']:,} faces (this process)",
        "",
        "Wall-clock on this host, and the search thread's CPU time (one faiss thread: what a core of its own takes).",
        "",
        "| index | nlist | nprobe | wall p50 / p95 ms | load avg | CPU p50 / p95 ms | recall@10 vs exact | build s | MB / M faces (memory_bytes) | MB / M faces (RSS Δ) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["one_shard"]:
        mark = (" **(chosen: least nprobe with recall@10 ≥ 0.99)**" if r.get("chosen") else "") + (
            " (nprobe_for)" if r.get("default") else "")
        lines.append(f"| {r['backend']}{mark} | {r['nlist'] or ''} | {r['nprobe'] or ''} | {r['p50_ms']} / {r['p95_ms']} | "
                     f"{r.get('loadavg_1m', '')} | {r['cpu_p50_ms']} / {r['cpu_p95_ms']} | "
                     f"{r['recall_at_10']} | {r['build_s']} | {r['memory_mb_per_million']} | {r['rss_mb_per_million']} |")
    lines += round_trip_markdown(result)
    lines += [
        "",
        f"## Simulated: {result['sim_size']:,} faces on {result['sim_shards']} shards, one machine each",
        "",
        "Each simulated search = the slowest of "
        f"{result['sim_shards']} independent draws from the measured one-shard latencies + one draw from the measured "
        "round trip (100,000 searches). `cpu`: shard draws from the search thread's CPU time and round-trip draws from "
        "the CPU-time critical path (coordinator + slowest shard worker + worker loop + Redis, per search): what a quiet "
        "host with a core per process would show, loopback wake-ups aside. `wall`: both from the wall clock on this "
        "shared host.",
        "",
        "| shard index | nprobe | clock | round trip | recall@10 | p50 ms | p95 ms | slowest shard p95 ms |",
        "|---|---:|---|---|---:|---:|---:|---:|",
    ]
    for s in result["simulated"]:
        lines.append(f"| {s['backend']} | {s['nprobe'] or ''} | {s['clock']} | {s['round_trip']} | {s['recall_at_10']} | "
                     f"{s['p50_ms']} | {s['p95_ms']} | {s['slowest_shard_p95_ms']} |")
    lines += ["", *[f"- {n}" for n in result["notes"]]]
    return "\n".join(lines) + "\n"


def round_trip_markdown(result: dict) -> list[str]:
    lines = [
        "",
        f"## The Celery round trip: {result['sim_shards']} real shard workers with tiny shards (4,000 faces)",
        "",
        "Search time ~0, so this is what Celery, Redis, the result backend and the merge add (bench/round_trip.py "
        "says where each stage starts and ends). Variant = gather:pool; `pubsub:solo` is what ships.",
        "",
        "| variant | load avg | wall p50 / p95 ms | publish | to worker | worker start | run + store | answer back | merge | "
        "coordinator CPU | worker CPU in task | worker CPU outside | worker process CPU / task | Redis CPU / search | "
        "**CPU path p50 / p95** |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in result["round_trip"]:
        st = t["stages_ms"]

        def cell(name: str, d: dict | None = None) -> str:
            d = d if d is not None else st.get(name, {})
            return f"{d.get('p50')} / {d.get('p95')}" if d and d.get("p50") is not None else "–"

        lines.append(
            f"| {t['variant']} | {t['loadavg_1m']} | {t['p50_ms']} / {t['p95_ms']} | {cell('publish')} | {cell('to_worker')} | "
            f"{cell('worker_start')} | {cell('run_and_store')} | {cell('answer_back')} | {cell('merge')} | "
            f"{cell('', t['coordinator_cpu_ms'])} | {cell('', t.get('worker_cpu_in_task_ms'))} | "
            f"{t.get('worker_cpu_outside_per_task_ms', '–')} | {t.get('worker_proc_cpu_per_task_ms', '–')} | "
            f"{t.get('redis_cpu_per_search_ms', '–')} | "
            f"**{cell('', t.get('cpu_path_ms'))}** |")
    lines += [
        "",
        "Stages in ms, p50 / p95 over tasks (publish: from the search's start until that task's send_task returned; "
        "to worker: until the shard worker's consumer had it; worker start: until the task began; run + store: until "
        "its answer was in the result backend; answer back: until the coordinator read it), merge over searches. "
        f"merge_topk of {result['sim_shards']} x {TOP_K} hits alone: p50 {result['merge']['p50_ms']} ms, "
        f"p95 {result['merge']['p95_ms']} ms.",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd")
    w = sub.add_parser("worker")
    w.add_argument("--shard", type=int, required=True)
    w.add_argument("--count", type=int, required=True)
    w.add_argument("--n", type=int, required=True)
    w.add_argument("--pool", default="solo", choices=("solo", "prefork"))
    w.add_argument("--trace", default="")
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--shards", default="1,2,4")
    parser.add_argument("--sim-size", type=int, default=10_000_000)
    parser.add_argument("--sim-shards", type=int, default=4)
    parser.add_argument("--nprobes", default="", help="IVF nprobe values at the simulated shard size (default: around nprobe_for)")
    parser.add_argument("--round-trip", default="pubsub:solo,poll:solo,pubsub:prefork",
                        help="round-trip variants gather:pool (the first pubsub:solo one feeds the simulation)")
    parser.add_argument("--one-shard", default="exact,ivf", help="indexes measured at the simulated shard size")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    if args.cmd == "worker":
        return worker_main(args)

    from tests.support.procs import ThrowawayRedis  # noqa: E402  (a private redis-server on a spare port)

    import faiss

    # As the shard workers run (scatter.SHARD_FAISS_THREADS).
    faiss.omp_set_num_threads(1)
    started = time.perf_counter()
    load_at_start = round(os.getloadavg()[0], 2)
    tmp = Path(tempfile.mkdtemp(prefix="huijia-shards-"))
    redis = ThrowawayRedis(tmp)
    redis.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUIJIA_")}
    env.update({"HUIJIA_SECRET_KEY": secrets.token_urlsafe(32), "HUIJIA_TEMPLATE_KEY": secrets.token_urlsafe(32),
                "HUIJIA_BROKER_URL": redis.url,
                "HUIJIA_INSTANCE_DIR": str(tmp / "instance"), "HUIJIA_DATABASE_URL": f"sqlite:///{tmp}/unused.db",
                "PYTHONPATH": str(ROOT)})
    os.environ.update({k: v for k, v in env.items() if k.startswith("HUIJIA_")})
    logdir = tmp / "logs"
    logdir.mkdir()
    try:
        gallery = synthetic_gallery(args.size, seed=SEED)
        queries, _ = gallery.probes(args.queries + args.warmup, seed=5)
        truth = brute_force_topk(gallery.vectors, queries, K)
        del gallery
        gc.collect()
        counts = [int(c) for c in args.shards.split(",") if c.strip()]
        stack = stack_rows(env, args.size, counts, queries, truth, args.warmup, logdir)
        variants = [v for v in args.round_trip.split(",") if v.strip()]
        trips = round_trip_rows(env, args.sim_shards, queries, args.warmup, logdir, variants, redis.proc.pid)
        shipped = next((t for t in trips if t["variant"] == "pubsub:solo"), trips[0])
        overhead = {"variant": shipped["variant"], "wall": shipped["samples_ms"],
                    "cpu": shipped.get("cpu_path_samples_ms") or shipped["samples_ms"]}
        n_shard = args.sim_size // args.sim_shards
        from service.matching.index import nprobe_for

        nlist = nlist_for(n_shard)
        default = nprobe_for(nlist)
        nprobes = [int(p) for p in args.nprobes.split(",") if p.strip()] or sorted(
            {max(1, nlist // 8), max(1, nlist // 6), default, max(1, nlist // 4)})
        one, samples = one_shard_rows(n_shard, queries, args.warmup, nprobes,
                                      tuple(b for b in args.one_shard.split(",") if b.strip()))
        # The smallest nprobe reaching recall@10 0.99 is what nprobe_for should give at this size.
        meeting = [r for r in one if r["backend"] == "ivf" and r["recall_at_10"] >= 0.99]
        for row in one:
            row["chosen"] = bool(meeting) and row is min(meeting, key=lambda r: r["nprobe"])
            row["default"] = row["backend"] == "ivf" and row["nprobe"] == default
        simulated = []
        for row in one:
            for clock in ("cpu", "wall"):
                sim = simulate(samples[(row["backend"], row["nprobe"])][clock], overhead[clock], args.sim_shards)
                simulated.append({"backend": row["backend"], "nprobe": row["nprobe"], "clock": clock,
                                  "round_trip": overhead["variant"], "recall_at_10": row["recall_at_10"], **sim})
        result = {
            "argv": argv if argv is not None else sys.argv[1:], "size": args.size, "sim_size": args.sim_size,
            "sim_shards": args.sim_shards, "sim_shard_size": n_shard, "queries": args.queries, "warmup": args.warmup,
            "load_at_start": load_at_start, "environment": environment(1),
            "stack": [{k: v for k, v in r.items() if k != "samples_ms"} for r in stack],
            "one_shard": one, "round_trip": [{k: v for k, v in t.items() if not k.endswith("samples_ms")} for t in trips],
            "merge": merge_cost(args.sim_shards), "simulated": simulated,
            "notes": [
                f"Default IVF at {n_shard:,} faces a shard: nlist {nlist} (nlist_for), nprobe {default} (nprobe_for).",
                "Indexes switch from exact to IVF above EXACT_LIMIT faces a shard (service/matching/index/factory.py).",
                "recall@10 of the stack rows: the merged top 10 against brute force over the whole gallery.",
            ],
            "finished_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "runtime_s": round(time.perf_counter() - started, 1),
        }
    finally:
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    write_results(args.out, "shards", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
