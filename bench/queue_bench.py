"""Supervisor and staff work queues with many open cases: milliseconds and SQL statements per call.

    python bench/queue_bench.py [--cases 200,700,2000] [--repeat 5] [--out bench/results]

Fills a scratch PostgreSQL database (`huijia_bench_queues`, created and dropped) with the demo loader's
realistic station, then times the overdue queue, the approvals queue, the stranded queue and the dashboard
numbers through the same service calls the pages and the API make. Writes worklists.json and worklists.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch_db import create_database, drop_database, in_process_app  # noqa: E402

ADMIN_URL = os.environ.get("HUIJIA_BENCH_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DB_NAME = "huijia_bench_queues"


def measure(cases_list: list[int], repeat: int) -> list[dict]:
    url = create_database(ADMIN_URL, DB_NAME)
    from service.demo import load_demo
    from service.domain.lifecycle import SEARCHING
    from service.extensions import db
    from service.models import Case, Station, User
    from service.services import family_search, stats, worklists

    app = in_process_app(url, ROOT / "bench" / "results" / "tmp")
    rows = []
    with app.app_context():
        statements = {"n": 0}
        sa.event.listen(db.engine, "before_cursor_execute", lambda *a, **k: statements.__setitem__("n", statements["n"] + 1))
        for target in sorted(cases_list):
            load_demo(f"B{target}", cases=target, seed=target)  # one station of that size

            station = db.session.scalar(sa.select(Station).where(Station.code == f"B{target}"))
            user = User(username=f"bench{target}", role="supervisor", password_hash="x", station=station)
            db.session.add(user)
            db.session.commit()
            calls = {
                "overdue queue": lambda: family_search.overdue_queue(user),
                "approvals queue": lambda: family_search.approvals_queue(user),
                "stranded queue": lambda: worklists.run("stranded", user, worklists.parse_filter(user, {})),
                "dashboard numbers": lambda: stats.summary(user, stats.parse_range({})),
            }
            open_cases = db.session.scalar(sa.select(sa.func.count()).select_from(Case).where(
                Case.station_id == station.id, Case.state.in_(SEARCHING)))
            for name, call in calls.items():
                times, counts = [], []
                for _ in range(repeat):
                    db.session.expire_all()
                    statements["n"] = 0
                    started = time.perf_counter()
                    result = call()
                    times.append((time.perf_counter() - started) * 1000)
                    counts.append(statements["n"])
                    db.session.rollback()
                size = len(result) if isinstance(result, list) else sum(len(v) for v in result.values()) \
                    if isinstance(result, dict) and all(isinstance(v, list) for v in result.values()) else None
                rows.append({"cases": target, "searching_cases": open_cases, "call": name,
                             "ms_p50": round(statistics.median(times), 1), "ms_max": round(max(times), 1),
                             "sql_statements": int(statistics.median(counts)), "rows": size})
                print(json.dumps(rows[-1]), flush=True)
    drop_database(ADMIN_URL, DB_NAME)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="200,700,2000", help="station sizes (cases), comma-separated")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    rows = measure([int(x) for x in args.cases.split(",")], args.repeat)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "host": platform.node(),
            "cpus": os.cpu_count(), "repeat": args.repeat}
    (out / "worklists.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2, ensure_ascii=False))
    lines = ["# Work queues with many cases (`bench/queue_bench.py`)", "",
             f"{meta['when']}, {meta['cpus']} cores, PostgreSQL on this machine, median of {args.repeat} calls.", "",
             "| cases at the station | of them searching | call | ms p50 | ms max | SQL statements | rows |",
             "|---:|---:|---|---:|---:|---:|---:|"]
    lines += [f"| {r['cases']} | {r['searching_cases']} | {r['call']} | {r['ms_p50']} | {r['ms_max']} | {r['sql_statements']} | "
              f"{'' if r['rows'] is None else r['rows']} |" for r in rows]
    (out / "worklists.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'worklists.md'}")


if __name__ == "__main__":
    main()
