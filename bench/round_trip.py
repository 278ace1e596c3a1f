"""Where a sharded search's Celery round trip goes: per-stage timestamps and CPU time, for bench/shard_bench.py.

Each search is split at these points (wall clock, time.time(), one host so one clock):
  start -> sent (send_task returned: publish + result subscription) -> received (the shard worker's consumer
  took the message: broker wait and worker wake-up) -> prerun (request built, message acknowledged) ->
  stored (task ran and its answer was stored in the result backend: task_success fires after the store) ->
  answer (the coordinator read it: pub/sub or polling) -> end (merged).
CPU time, which contention does not change (much): the coordinator's process_time per search, each shard
worker's process_time from received to stored per task, and from /proc the whole worker and redis-server
processes over the run (what the loop, BRPOP and Redis itself take), per search.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

TICK = os.sysconf("SC_CLK_TCK")


def install_worker_trace(path: Path) -> None:
    """In a shard worker (solo pool): timestamps and CPU time of each task, written to `path` at shutdown."""
    from celery.signals import task_prerun, task_received, task_success, worker_shutdown

    rows: dict[str, dict] = {}

    def stamp(task_id: str, stage: str) -> None:
        rows.setdefault(task_id, {})[stage] = (time.time(), time.process_time())

    task_received.connect(lambda request=None, **_: stamp(request.id, "received"), weak=False)
    task_prerun.connect(lambda task_id=None, **_: stamp(task_id, "prerun"), weak=False)
    task_success.connect(lambda sender=None, **_: stamp(sender.request.id, "stored"), weak=False)
    worker_shutdown.connect(lambda **_: path.write_text(json.dumps(rows)), weak=False)


def proc_cpu_ms(pid: int) -> float:
    """utime + stime of a process (and its reaped children) in ms, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) * 1000 / TICK


def pct(values, q) -> float | None:
    return round(float(np.percentile(values, q)), 3) if len(values) else None


def breakdown(searches: list[dict], worker_rows: dict[str, dict], proc_cpu: dict[str, float], n: int) -> dict:
    """Stages in ms (p50 / p95 over tasks or searches) and the CPU-time critical path of each search.

    `searches`: one dict a search: start, end, cpu_ms and tasks {task_id: {"sent": t, "answer": t}}.
    `proc_cpu`: CPU ms over the timed searches of the shard workers ("workers", summed) and redis ("redis").
    """
    stages: dict[str, list[float]] = {k: [] for k in ("publish", "to_worker", "worker_start", "run_and_store",
                                                      "answer_back", "merge", "total")}
    cpu_paths, in_task_cpu = [], []
    for s in searches:
        stages["total"].append((s["end"] - s["start"]) * 1000)
        answers = [t["answer"] for t in s["tasks"].values() if "answer" in t]
        if answers:
            stages["merge"].append((s["end"] - max(answers)) * 1000)
        worker_cpu = []
        for task_id, t in s["tasks"].items():
            w = worker_rows.get(task_id, {})
            stages["publish"].append((t["sent"] - s["start"]) * 1000)
            if "received" in w:
                stages["to_worker"].append((w["received"][0] - t["sent"]) * 1000)
            if "received" in w and "prerun" in w:
                stages["worker_start"].append((w["prerun"][0] - w["received"][0]) * 1000)
            if "prerun" in w and "stored" in w:
                stages["run_and_store"].append((w["stored"][0] - w["prerun"][0]) * 1000)
            if "stored" in w and "answer" in t:
                stages["answer_back"].append((t["answer"] - w["stored"][0]) * 1000)
            if "received" in w and "stored" in w:
                worker_cpu.append((w["stored"][1] - w["received"][1]) * 1000)
        in_task_cpu += worker_cpu
        cpu_paths.append((s["cpu_ms"], max(worker_cpu) if worker_cpu else None))
    out: dict = {"stages_ms": {k: {"p50": pct(v, 50), "p95": pct(v, 95)} for k, v in stages.items()},
                 "coordinator_cpu_ms": {"p50": pct([c for c, _ in cpu_paths], 50), "p95": pct([c for c, _ in cpu_paths], 95)}}
    n_tasks = sum(len(s["tasks"]) for s in searches)
    if proc_cpu and n_tasks:
        out["worker_proc_cpu_per_task_ms"] = round(proc_cpu["workers"] / n_tasks, 3)
        out["redis_cpu_per_search_ms"] = round(proc_cpu["redis"] / n, 3)
    if in_task_cpu and proc_cpu:
        tasks = len(in_task_cpu)
        # What the worker spends outside the traced span (its event loop, BRPOP, the prefetch), per task.
        outside = max(0.0, (proc_cpu["workers"] - sum(in_task_cpu)) / tasks)
        redis = proc_cpu.get("redis", 0.0) / n
        path = [c + w + outside + redis for c, w in cpu_paths if w is not None]
        out.update({
            "worker_cpu_in_task_ms": {"p50": pct(in_task_cpu, 50), "p95": pct(in_task_cpu, 95)},
            "worker_cpu_outside_per_task_ms": round(outside, 3),
            "redis_cpu_per_search_ms": round(redis, 3),
            "cpu_path_ms": {"p50": pct(path, 50), "p95": pct(path, 95)},
            "cpu_path_samples_ms": [round(p, 3) for p in path],
        })
    return out
