"""Load campaign: Locust (headless) against the real stack on this machine.

    .venv/bin/python bench/load/run.py                 # 90 s, 20 clerks, 3 reviewers, one bulk import
    .venv/bin/python bench/load/run.py --think 0.5,2 --name load-stress   # clerks 10x faster: saturation
    .venv/bin/python bench/load/run.py --duration 30 --clerks 5 --out /tmp/load               # a smoke run

The stack is the production topology of docker-compose.yml, as processes: gunicorn (`--workers 4`, the
Dockerfile's command), two Celery worker processes on the `default` queue (photos, imports), the
`search` worker (matching) and beat, on a throwaway database (`huijia_load`, created and dropped on the
PostgreSQL of HUIJIA_BENCH_ADMIN_URL, else a private initdb cluster) and a private redis-server.
Clerks register arrivals with a photo (dev-set faces resized to --photo-side px, as a phone sends them),
reviewers read queues and lists, a supervisor runs one bulk import (CSV + photo zip) and follows it.
After the load stops, the background backlog is timed until every photo is processed, every case and
report is matched and the import job is done. Writes bench/results/<name>.json and .md (default
`load`); process logs and gunicorn's access log go to bench/results/logs/<name>/ (git-ignored).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.scratch_db import create_database, drop_database, upgrade  # noqa: E402
from tests.support.procs import VENV_BIN, Proc, ThrowawayRedis, child_env, spare_port, wait_for  # noqa: E402

FACES = Path(os.environ.get("HUIJIA_FACES", ROOT.parent / "shared" / "faces"))
ADMIN_URL = os.environ.get("HUIJIA_BENCH_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
DB_NAME = "huijia_load"
FINISHED = ("processed", "no_face", "multiple_faces", "low_quality", "invalid")
INTAKE = "POST /api/v1/cases"
TARGET_P95_MS = 300


def log(msg: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- database ---

class Database:
    """`huijia_load` (or `name`) on an existing server, or a private cluster when none answers."""

    def __init__(self, name: str = DB_NAME):
        self.name = name
        self.cluster = None
        try:
            self.url = create_database(ADMIN_URL, name, migrate=False)  # seed() migrates, here or on the cluster
            self.where = f"shared server, database {name}"
        except sa.exc.OperationalError:
            from tests.faults.servers import ThrowawayPostgres

            self.cluster = ThrowawayPostgres()
            self.cluster.start()
            self.url = self.cluster.url
            self.where = "private initdb cluster (fsync off)"

    def drop(self) -> None:
        if self.cluster is not None:
            self.cluster.destroy()
            return
        drop_database(ADMIN_URL, self.name)


def seed(url: str, clerks: int) -> dict[str, list[str]]:
    """Migrate, then a station, the users and their API tokens (issued here: logins are not the load)."""
    from argon2 import PasswordHasher
    from sqlalchemy.orm import Session

    from service.models import ApiToken, Station, User
    from service.services.users import token_digest

    upgrade(url)
    engine = sa.create_engine(url)
    tokens: dict[str, list[str]] = {"staff": [], "supervisor": []}
    hashed = PasswordHasher().hash(secrets.token_urlsafe(16))
    with Session(engine) as session:
        station = Station(code="LOAD", name="负载测试救助管理站", city="天津")
        session.add(station)
        users = [User(username=f"clerk{i:02d}", role="staff", password_hash=hashed, station=station)
                 for i in range(clerks)]
        users += [User(username=f"super{i}", role="supervisor", password_hash=hashed, station=station) for i in range(4)]
        session.add_all(users)
        session.flush()
        expires = datetime.now(timezone.utc) + timedelta(hours=12)
        for user in users:
            value = secrets.token_urlsafe(32)
            session.add(ApiToken(user_id=user.id, token_hash=token_digest(value), expires_at=expires))
            tokens[user.role].append(value)
        session.commit()
    engine.dispose()
    return tokens


# --- inputs ---

def prepare_inputs(folder: Path, tokens: dict, photo_side: int, import_rows: int, import_photos: int) -> dict:
    from PIL import Image

    (folder / "tokens.json").write_text(json.dumps(tokens))
    photos = folder / "photos"
    photos.mkdir()
    files = sorted(FACES.glob("*/*.jpg"))
    if not files:
        raise SystemExit(f"no dev-set photos at {FACES} (set HUIJIA_FACES)")
    sizes = []
    for i, path in enumerate(files):
        with Image.open(path) as img:
            img = img.convert("RGB")
            scale = photo_side / max(img.size)
            img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
            target = photos / f"{i:03d}-{path.parent.name}.jpg"
            img.save(target, "JPEG", quality=88)
            sizes.append(target.stat().st_size)
    # The bulk import: import_rows reports, the first import_photos with a photo from the zip.
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["编号", "姓名", "性别", "出生日期", "走失日期", "走失地点", "照片"])
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(import_rows):
            photo = ""
            if i < import_photos:
                src = files[(i * 7) % len(files)]
                photo = f"r{i:05d}.jpg"
                zf.writestr(photo, src.read_bytes())
            writer.writerow([f"LOAD-{i:05d}", f"导入{i}", "男" if i % 2 else "女", f"{1950 + i % 60}-01-01",
                             "2025-06-01", "天津市", photo])
    (folder / "import.csv").write_text(out.getvalue(), encoding="utf-8")
    (folder / "import.zip").write_bytes(archive.getvalue())
    return {"photos": len(sizes), "photo_bytes_median": sorted(sizes)[len(sizes) // 2], "photo_side": photo_side,
            "import_rows": import_rows, "import_photos": import_photos}


# --- the stack ---

def start_stack(env: dict, logs: Path, web_workers: int, default_workers: int, nice: int = 0) -> tuple[str, list[Proc]]:
    port = spare_port()
    base = f"http://127.0.0.1:{port}"
    celery = str(VENV_BIN / "celery")
    if nice:
        celery = f"{shutil.which('nice')} -n {nice} {celery}"
    procs = [Proc([str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(web_workers),
                   "--timeout", "120", "--access-logfile", str(logs / "access.log"),
                   "--access-logformat", '%(t)s %(p)s "%(r)s" %(s)s %(M)sms', "service:create_app()"], env, logs / "web.log")]
    for i in range(default_workers):
        procs.append(Proc([*celery.split(), "-A", "workers.celery_app", "worker", "-Q", "default", "-c", "1", "-n", f"default{i}@%h",
                           "-l", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                          env, logs / f"worker-default{i}.log"))
    procs.append(Proc([*celery.split(), "-A", "workers.celery_app", "worker", "-Q", "search", "-c", "1", "-n", "search@%h",
                       "-l", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                      env, logs / "worker-search.log"))
    procs.append(Proc([*celery.split(), "-A", "workers.celery_app", "beat", "-l", "INFO", "-s", str(logs / "beat-schedule")],
                      env, logs / "beat.log"))
    import requests

    def web_up():
        try:
            return requests.get(f"{base}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_for(web_up, 90, what=f"web\n{procs[0].tail()}")
    for proc in procs[1:-1]:
        wait_for(lambda p=proc: "ready." in p.tail(300), 90, what=f"{proc.log.name}\n{proc.tail()}")
    return base, procs


def warm_up(base: str, tokens: dict, work: Path, web_workers: int) -> None:
    """A few requests per gunicorn worker first: a deployed server is warm (imports, pools, templates)."""
    import concurrent.futures

    import requests

    auth = {"Authorization": f"Bearer {tokens['staff'][0]}"}
    photo = sorted((work / "photos").glob("*.jpg"))[0].read_bytes()

    def one(i: int) -> int:
        requests.get(f"{base}/api/v1/cases", headers=auth, timeout=60)
        return requests.post(f"{base}/api/v1/cases", headers=auth, timeout=60, data={"name": f"预热{i}"},
                             files=[("photos", ("w.jpg", photo, "image/jpeg"))]).status_code

    with concurrent.futures.ThreadPoolExecutor(web_workers) as pool:
        codes = list(pool.map(one, range(web_workers * 3)))
    assert set(codes) == {201}, codes


# --- measuring ---

def backlog(url: str) -> dict:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            q = lambda sql: conn.execute(sa.text(sql)).scalar()  # noqa: E731
            return {
                "photos_pending": q("SELECT count(*) FROM photo WHERE status = 'pending'"),
                "cases_matching": q("SELECT count(*) FROM case_record WHERE matching_status = 'pending'"),
                "reports_matching": q("SELECT count(*) FROM gallery_report WHERE matching_status = 'pending'"),
                "jobs_open": q("SELECT count(*) FROM job WHERE state IN ('queued', 'running')"),
            }
    finally:
        engine.dispose()


def totals(url: str) -> dict:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = lambda sql: [tuple(r) for r in conn.execute(sa.text(sql))]  # noqa: E731
            photos = dict(rows("SELECT status, count(*) FROM photo GROUP BY status"))
            job = rows("SELECT state, total, done, created, skipped, coalesce(json_array_length(CAST(errors AS json)), 0),"
                       " extract(epoch FROM finished_at - started_at) FROM job ORDER BY id LIMIT 1")
            events = rows("SELECT count(*), count(DISTINCT CAST(data AS json)->>'photo_id') FROM case_event "
                          "WHERE kind LIKE 'photo_%'")[0]
            lag = rows("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s), percentile_cont(0.95) WITHIN GROUP "
                       "(ORDER BY s), max(s) FROM (SELECT extract(epoch FROM processed_at - created_at) AS s FROM photo "
                       "WHERE case_id IS NOT NULL AND processed_at IS NOT NULL) t")[0]
            return {
                "photo_upload_to_processed_s": {k: round(float(v), 1) if v is not None else None
                                                for k, v in zip(("p50", "p95", "max"), lag)},
                "cases": conn.execute(sa.text("SELECT count(*) FROM case_record")).scalar(),
                "reports": conn.execute(sa.text("SELECT count(*) FROM gallery_report")).scalar(),
                "photos": photos,
                "photo_events": {"total": events[0], "distinct_photos": events[1]},
                "candidates": conn.execute(sa.text("SELECT count(*) FROM candidate_match")).scalar(),
                "import_job": _job(job[0]) if job else None,
            }
    finally:
        engine.dispose()


def _job(row: tuple) -> dict:
    state, total, done, created, skipped, errors, seconds = row
    return {"state": state, "total": total, "done": done, "created": created, "skipped": skipped,
            "row_errors": errors, "seconds": round(float(seconds), 1) if seconds is not None else None}


def read_locust(prefix: Path) -> dict:
    endpoints = {}
    with open(f"{prefix}_stats.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            name = "all" if row["Name"] == "Aggregated" else row["Name"]
            endpoints[name] = {
                "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                "rps": round(float(row["Requests/s"]), 2), "p50_ms": _ms(row["50%"]), "p95_ms": _ms(row["95%"]),
                "p99_ms": _ms(row["99%"]), "max_ms": _ms(row["Max Response Time"]),
                "mean_ms": round(float(row["Average Response Time"]), 1),
            }
    failures = []
    path = Path(f"{prefix}_failures.csv")
    if path.exists():
        with open(path, newline="") as fh:
            failures = [{"endpoint": r["Name"], "error": r["Error"][:300], "count": int(r["Occurrences"])}
                        for r in csv.DictReader(fh)]
    return {"endpoints": endpoints, "failures": failures}


def _ms(value: str):
    return None if value in ("", "N/A") else round(float(value))


class CpuSampler:
    """Whole-machine CPU busy share during the run, from /proc/stat."""

    def __init__(self):
        self.start = self._read()

    @staticmethod
    def _read() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields), idle

    def busy(self) -> float:
        total, idle = self._read()
        dt, di = total - self.start[0], idle - self.start[1]
        return round(100 * (1 - di / dt), 1) if dt else 0.0


# --- report ---

def write_report(result: dict, out: Path, name: str = "load") -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    eps = result["locust"]["endpoints"]
    intake = eps.get(INTAKE, {})
    every_photo = result["totals"]["photos"].get("pending", 0) == 0
    errors = sum(e["failures"] for n, e in eps.items() if n != "all")
    lines = [
        "# Load campaign (bench/load/run.py)",
        "",
        f"Run {result['started']} on {result['host']['cores']} cores: {result['config']['duration_s']} s of load, "
        f"{result['config']['clerks']} clerks registering arrivals with a photo (pause {result['config']['clerk_think_s']} s "
        f"between actions, started {result['config']['ramp_per_s']}/s after a warm-up), {result['config']['reviewers']} reviewers "
        f"reading queues, one bulk import ({result['inputs']['import_rows']} rows, {result['inputs']['import_photos']} "
        f"with a photo). Stack: gunicorn `--workers {result['config']['web_workers']}`, "
        f"{result['config']['default_workers']} Celery processes on `default`, the `search` worker, beat; "
        f"PostgreSQL ({result['database']}), a private redis-server. Photos: dev-set faces resized to "
        f"{result['inputs']['photo_side']} px (median {result['inputs']['photo_bytes_median'] // 1024} KB). "
        f"Machine CPU busy during the load: {result['host']['cpu_busy_pct']} %.",
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| intake POST p95 ≤ {TARGET_P95_MS} ms | p95 {intake.get('p95_ms')} ms (p50 {intake.get('p50_ms')}, "
        f"p99 {intake.get('p99_ms')}) | **{'met' if (intake.get('p95_ms') or 1e9) <= TARGET_P95_MS else 'not met'}** |",
        f"| zero errors | {errors} failed requests of {eps.get('all', {}).get('requests')} | "
        f"**{'met' if errors == 0 else 'not met'}** |",
        f"| every photo processed | {sum(v for k, v in result['totals']['photos'].items() if k != 'pending')} of "
        f"{sum(result['totals']['photos'].values())} ended; each with {'exactly one' if result['totals']['photo_events']['total'] == result['totals']['photo_events']['distinct_photos'] else 'NOT exactly one'} "
        f"`photo_*` event | **{'met' if every_photo else 'not met'}** |",
        f"| background backlog drained | {result['drain_s']} s after the load stopped "
        f"({'drained' if result['drained'] else 'NOT drained within the limit'}); an arrival's photo processed "
        f"{result['totals']['photo_upload_to_processed_s']['p50']} s after upload at p50, "
        f"{result['totals']['photo_upload_to_processed_s']['p95']} s at p95 | |",
        "",
        "| endpoint | requests | failures | req/s | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for endpoint, e in sorted(eps.items(), key=lambda kv: (kv[0] == "all", kv[0])):
        lines.append(f"| {'**all**' if endpoint == 'all' else '`' + endpoint + '`'} | {e['requests']} | {e['failures']} | {e['rps']} | "
                     f"{e['p50_ms']} | {e['p95_ms']} | {e['p99_ms']} | {e['max_ms']} |")
    t = result["totals"]
    lines += [
        "",
        f"Rows at the end (with the warm-up's {result['config']['web_workers'] * 3} arrivals): {t['cases']} cases, {t['reports']} reports, {t['candidates']} candidate matches; photos by "
        f"status {t['photos']}; import job {t['import_job']}.",
        f"Backlog when the load stopped: {result['backlog_at_stop']}.",
    ]
    if result["locust"]["failures"]:
        lines += ["", "Failures:", ""] + [f"- `{f['endpoint']}` ×{f['count']}: {f['error']}" for f in result["locust"]["failures"]]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=90, help="seconds of load (default 90)")
    parser.add_argument("--clerks", type=int, default=20)
    parser.add_argument("--reviewers", type=int, default=3)
    parser.add_argument("--import-rows", type=int, default=1000)
    parser.add_argument("--import-photos", type=int, default=100)
    parser.add_argument("--photo-side", type=int, default=1280, help="longest side of an uploaded photo, px")
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--default-workers", type=int, default=2)
    parser.add_argument("--think", default="5,15",
                        help="a clerk's pause between actions, seconds low,high (0.5,2 for the stress run)")
    parser.add_argument("--ramp", type=float, default=2.0, help="users started per second")
    parser.add_argument("--name", default="load", help="results file stem: <out>/<name>.json and .md")
    parser.add_argument("--worker-nice", type=int, default=0,
                        help="run the Celery workers at this nice level (the web keeps the CPU first)")
    parser.add_argument("--drain-limit", type=int, default=900, help="seconds to wait for the backlog")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)

    logs = ROOT / "bench" / "results" / "logs" / args.name
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="huijia-load-"))
    database = redis = None
    procs: list[Proc] = []
    started = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    try:
        log("database")
        database = Database()
        tokens = seed(database.url, args.clerks)
        redis = ThrowawayRedis(work)
        redis.start()
        inputs = prepare_inputs(work, tokens, args.photo_side, args.import_rows, args.import_photos)
        env = child_env({
            "HUIJIA_DATABASE_URL": database.url, "HUIJIA_BROKER_URL": redis.url,
            "HUIJIA_INSTANCE_DIR": str(work / "instance"), "HUIJIA_MEDIA_DIR": str(work / "media"),
            "HUIJIA_SECRET_KEY": secrets.token_urlsafe(32), "HUIJIA_TEMPLATE_KEY": secrets.token_urlsafe(32),
            "HUIJIA_RATELIMIT_STORAGE_URL": redis.url.rsplit("/", 1)[0] + "/1",
        })
        log("starting gunicorn, workers and beat")
        base, procs = start_stack(env, logs, args.web_workers, args.default_workers, args.worker_nice)
        users = args.clerks + args.reviewers + 1
        warm_up(base, tokens, work, args.web_workers)
        log(f"locust: {users} users for {args.duration} s against {base}")
        cpu = CpuSampler()
        locust_env = {**os.environ, "HUIJIA_LOAD_DIR": str(work), "HUIJIA_LOAD_CLERKS": str(args.clerks),
                      "HUIJIA_LOAD_REVIEWERS": str(args.reviewers), "HUIJIA_LOAD_THINK": args.think}
        done = subprocess.run(
            [str(VENV_BIN / "locust"), "-f", str(ROOT / "bench" / "load" / "locustfile.py"), "--headless",
             "-u", str(users), "-r", str(args.ramp), "-t", f"{args.duration}s", "--host", base, "--csv", str(work / "locust"),
             "--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING"],
            env=locust_env, cwd=work, capture_output=True, text=True, timeout=args.duration + 300)
        (logs / "locust.log").write_text(done.stdout + done.stderr)
        busy = cpu.busy()
        stopped = time.monotonic()
        at_stop = backlog(database.url)
        log(f"load stopped; backlog {at_stop}")
        drained = False
        while time.monotonic() - stopped < args.drain_limit:
            state = backlog(database.url)
            if not any(state.values()):
                drained = True
                break
            time.sleep(1)
        drain = round(time.monotonic() - stopped, 1)
        log(f"backlog {'drained' if drained else 'NOT drained'} after {drain} s")
        result = {
            "started": started,
            "host": {"cores": os.cpu_count(), "cpu_busy_pct": busy},
            "database": database.where,
            "config": {"duration_s": args.duration, "clerks": args.clerks, "reviewers": args.reviewers,
                       "clerk_think_s": args.think, "web_workers": args.web_workers,
                       "default_workers": args.default_workers, "worker_nice": args.worker_nice,
                       "ramp_per_s": args.ramp},
            "inputs": inputs,
            "locust": read_locust(work / "locust"),
            "backlog_at_stop": at_stop,
            "drained": drained,
            "drain_s": drain,
            "totals": totals(database.url),
        }
        write_report(result, args.out, args.name)
        log(f"wrote {args.out / (args.name + '.json')} and {args.out / (args.name + '.md')}")
        print((args.out / f"{args.name}.md").read_text())
        return 0 if drained else 1
    finally:
        for proc in procs:
            proc.stop()
        if redis is not None:
            redis.stop()
        if database is not None:
            database.drop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
