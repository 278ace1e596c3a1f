"""Re-encoding after a face engine upgrade, on real workers over Redis: how fast, and what it does to arrivals.

Run: python bench/reencode_bench.py [--reports 600] [--arrivals 12] [--out bench/results]
Writes <out>/reencode.json and <out>/reencode.md.

A scratch PostgreSQL database and Redis db 11 (HUIJIA_BENCH_ADMIN_URL, HUIJIA_REENCODE_BENCH_REDIS_URL). Stranger photos
(../shared/faces-distractors) become gallery reports, processed in this process; their faces are then relabelled
as an older engine version's (what an upgrade leaves). A `default` and a `search` worker (one process each, as on
a 2-core host) start; this process sweeps every 2 s as beat would, and registers one arrival (a dev-set photo)
every few seconds while the re-encode runs, then --arrivals more once it is done. An arrival's latency is registration →
`matching_status` done, read from the database.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bench.scratch_db import create_database, drop_database  # noqa: E402

DEFAULT_FACES = Path(os.environ.get("HUIJIA_FACES", PROJECT_ROOT.parent / "shared" / "faces"))
ADMIN_URL = os.environ.get("HUIJIA_BENCH_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("HUIJIA_REENCODE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
DB_NAME = "huijia_bench_reencode"
OLD = "bench-old-engine"


def _env(url: str, instance: Path) -> dict:
    return {"HUIJIA_DATABASE_URL": url, "HUIJIA_BROKER_URL": REDIS_URL, "HUIJIA_INSTANCE_DIR": str(instance),
            "HUIJIA_MEDIA_DIR": str(instance / "media"), "HUIJIA_SECRET_KEY": secrets.token_urlsafe(16),
            "HUIJIA_TEMPLATE_KEY": secrets.token_urlsafe(32), "HUIJIA_SWEEP_INTERVAL_SECONDS": "2"}


def _upload(path: Path):
    from service.services.intake import Upload

    return Upload(path.name, path.read_bytes())


def _gallery(user, settings, files: list[Path]) -> int:
    """Reports with one stranger photo each, processed here; then every face relabelled as the older engine's."""
    import sqlalchemy as sa

    from service.extensions import db
    from service.matching import candidates, photos
    from service.models import GalleryReport, Photo
    from service.services.reports import create_report

    for path in files:
        create_report(user, {"name": path.stem, "gender": "unknown"}, [_upload(path)], settings)
    for photo_id in db.session.scalars(sa.select(Photo.id).where(Photo.status == "pending")).all():
        photos.process_photo(photo_id, settings)
    for report_id in db.session.scalars(sa.select(GalleryReport.id)).all():  # a gallery at rest: matching done
        candidates.match_report(report_id, settings)
    for table in ("face", "face_template"):
        db.session.execute(sa.text(f"UPDATE {table} SET engine = :old"), {"old": OLD})
    db.session.commit()
    return len(files)


def _arrive(user, settings, path: Path) -> tuple[int, float]:
    from service.services.intake import register_arrival

    started = time.monotonic()
    return register_arrival(user, {"gender": "male"}, [_upload(path)], settings).case.id, started


def _settle(waiting: dict, done: dict) -> None:
    """Move the arrivals whose matching finished from `waiting` to `done` (latency in seconds)."""
    from service.extensions import db
    from service.models import Case

    db.session.expire_all()
    for case_id, started in list(waiting.items()):
        if db.session.get(Case, case_id).matching_status in ("done", "incomplete"):
            done[case_id] = time.monotonic() - waiting.pop(case_id)
    db.session.rollback()


def _quantiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {"n": len(values), "p50_s": round(statistics.median(ordered), 2),
            "p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2), "max_s": round(ordered[-1], 2)}


def run(args) -> dict:
    import redis

    from bench.e2e_bench import seed_staff
    from service import create_app
    from service.matching import reencode
    from service.matching.faces import engine_for
    from service.services import sweeper
    from tests.support.procs import child_env, start_worker, wait_for

    redis.Redis.from_url(REDIS_URL).flushdb()
    url = create_database(ADMIN_URL, DB_NAME)
    instance = Path(tempfile.mkdtemp(prefix="huijia-reencode-"))
    env = _env(url, instance)
    os.environ.update(env)
    app = create_app()
    strangers = sorted((args.faces.parent / "faces-distractors").glob("*.jpg"))[: args.reports]
    dev = [args.faces / r["file"] for r in csv.DictReader(open(args.faces / "manifest.csv", encoding="utf-8"))]
    arrivals = [f for f in dev if not f.stem == "1"]  # photo 1 of each person would be a report
    procs = {}
    try:
        with app.app_context():
            settings = app.config["HUIJIA"]
            user = seed_staff(secrets.token_urlsafe(12))
            t0 = time.monotonic()
            photos = _gallery(user, settings, strangers)
            prepared_s = time.monotonic() - t0
            version = engine_for(settings).version
            stale = reencode.count_stale(version)
            # The messages the preparation queued (photos processed here already, their matching): no worker should
            # take them ahead of the arrivals; an upgrade meets a gallery at rest.
            redis.Redis.from_url(REDIS_URL).flushdb()
            environ = child_env(env)
            procs["default"] = start_worker(environ, instance / "default.log", "-c", "1", queues="default")
            procs["search"] = start_worker(environ, instance / "search.log", "-c", "1", queues="search")
            for proc in procs.values():
                wait_for(lambda proc=proc: "ready." in proc.tail(200), 60, what="worker ready")

            waiting, during, after = {}, {}, {}
            started = time.monotonic()
            next_sweep = next_arrival = started
            sent_arrivals = 0
            reencoded_s = None
            while True:
                now = time.monotonic()
                if now >= next_sweep:
                    sweeper.sweep(settings)
                    next_sweep = now + 2
                left = reencode.count_stale(version)
                if reencoded_s is None and left == 0:
                    reencoded_s = now - started
                if now >= next_arrival and (reencoded_s is None or len(after) < args.arrivals):
                    case_id, at = _arrive(user, settings, arrivals[sent_arrivals % len(arrivals)])
                    waiting[case_id] = at
                    (during if reencoded_s is None else after)[case_id] = None
                    sent_arrivals += 1
                    next_arrival = now + args.every
                finished = {}
                _settle(waiting, finished)
                for case_id, latency in finished.items():
                    (during if case_id in during else after)[case_id] = latency
                if reencoded_s is not None and len(after) >= args.arrivals and not waiting:
                    break
                if now - started > args.timeout:
                    raise TimeoutError(f"re-encode not done after {args.timeout} s: {left} photos left")
                time.sleep(0.2)
    finally:
        for proc in procs.values():
            proc.stop()
        drop_database(ADMIN_URL, DB_NAME)
    return {
        "engine": version, "reports": photos, "photos_to_reencode": stale, "prepare_s": round(prepared_s, 1),
        "reencoded_s": round(reencoded_s, 1), "photos_per_s": round(stale / reencoded_s, 2),
        "workers": "1 default + 1 search process (2-core host)", "arrival_every_s": args.every,
        "arrivals_during": _quantiles([v for v in during.values() if v is not None]),
        "arrivals_after": _quantiles([v for v in after.values() if v is not None]),
    }


def markdown(r: dict) -> str:
    rows = [f"| {label} | {q['n']} | {q.get('p50_s', '–')} | {q.get('p95_s', '–')} | {q.get('max_s', '–')} |"
            for label, q in (("while the gallery is re-encoded", r["arrivals_during"]),
                             ("after it", r["arrivals_after"]))]
    return "\n".join([
        "# Re-encode after an engine upgrade (real workers, Redis)", "",
        f"`python bench/reencode_bench.py` — engine {r['engine']}; {r['reports']} stranger reports, all relabelled as an "
        f"older version's; {r['workers']}; the sweep every 2 s (as beat); one arrival every {r['arrival_every_s']} s.", "",
        f"- Re-encoded: {r['photos_to_reencode']} photos in {r['reencoded_s']} s = **{r['photos_per_s']} photos/s**, "
        "(faces written; each report's matching follows at the background priority).",
        "- Arrivals, registration → matching done:", "",
        "| arrivals | n | p50 s | p95 s | max s |", "|---|---|---|---|---|", *rows, ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=DEFAULT_FACES)
    parser.add_argument("--reports", type=int, default=600)
    parser.add_argument("--arrivals", type=int, default=12, help="after the re-encode (during it: one every --every s)")
    parser.add_argument("--every", type=float, default=3.0, help="seconds between two arrivals")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    report = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "reencode.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (args.out / "reencode.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
