"""Faults under load: every worker process and beat SIGKILLed, then Redis stopped, in one run of 300 arrivals.

    .venv/bin/python bench/faults_bench.py                       # 300 arrivals, 20 clients, 15 s outage
    .venv/bin/python bench/faults_bench.py --arrivals 60 --out /tmp/faults     # a smoke run

The production topology of docker-compose.yml as processes under scripts/supervise.py (Docker's restart policy
on one machine): gunicorn as the Dockerfile runs it (`--workers 4`), two Celery workers on `default`
(concurrency 2), the search worker, beat; production settings (sweep every 15 s, age rule 300 s, breaker 5 s);
a throwaway database `huijia_faults` on the local PostgreSQL and a private redis-server without persistence.
20 clients register arrivals with one photo each, pausing 5–15 s between two like the clerks of bench/load
(`--think 0,0`: back to back, the saturation case). When 20 % are answered every worker process and
beat get SIGKILL; when 40 % are answered Redis is SIGKILLed (its messages are gone) and started again 15 s later.
After the load a hung beat (SIGSTOP: alive to the supervisor, no ticks) is timed until /healthz shows it.

Measured: registrations lost (not 201, or no photo row), photos left pending, each photo finished exactly once,
intake latency during the outage, the time from Redis's return until every photo pending then has been sent
again (or finished), until all are finished, and until the hung beat shows. Writes bench/results/faults.json
and faults.md; process logs go to bench/results/tmp/faults/.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import signal
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.load.run import FACES, Database, seed  # noqa: E402
from tests.faults.servers import Supervised, ThrowawayRedis, small_photos, stack_env, wait_for  # noqa: E402

TARGETS = {"intake_p95_outage_ms": 2000, "requeued_after_return_s": 60}
FINISHED = ("processed", "no_face", "multiple_faces", "low_quality", "invalid")


def log(msg: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def photos(count: int, side: int) -> list[bytes]:
    """Every dev-set photo, resized as a phone sends it, each upload its own bytes."""
    if not any(FACES.glob("*/*.jpg")):
        raise SystemExit(f"no dev-set photos at {FACES} (set HUIJIA_FACES)")
    return small_photos(FACES, count, side, pattern="*/*.jpg", qualities=range(85, 95))


class Clients:
    def __init__(self, base: str, tokens: list[str], data: list[bytes], think: tuple[float, float]):
        self.base, self.tokens, self.data, self.think = base, tokens, data, think
        self.answers: list[dict] = []
        self.lock = threading.Lock()
        self.next = 0

    def run(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._client, args=(token, random.Random(n)), daemon=True)
                   for n, token in enumerate(self.tokens)]
        for t in threads:
            t.start()
        return threads

    def _client(self, token: str, rng: random.Random) -> None:
        auth = {"Authorization": f"Bearer {token}"}
        with requests.Session() as http:
            time.sleep(rng.uniform(0, self.think[1]))  # clerks do not all start at the same second
            while True:
                with self.lock:
                    i, self.next = self.next, self.next + 1
                if i >= len(self.data):
                    return
                started = time.monotonic()
                try:
                    resp = http.post(f"{self.base}/api/v1/cases", headers=auth, timeout=300, data={"name": f"故障{i}"},
                                     files=[("photos", (f"p{i}.jpg", self.data[i], "image/jpeg"))])
                    status, body = resp.status_code, (resp.json() if resp.ok else {})
                except requests.RequestException as exc:
                    status, body = None, {"error": type(exc).__name__}
                with self.lock:
                    self.answers.append({"i": i, "status": status, "processing": body.get("processing"),
                                         "id": body.get("id"), "started": started,
                                         "ms": (time.monotonic() - started) * 1000})
                time.sleep(rng.uniform(*self.think))  # the clerk's next person

    def answered(self) -> int:
        with self.lock:
            return len(self.answers)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))], 1)


def db_state(engine, since=None) -> dict:
    """Pending photos, those not (re)sent since `since` (a UTC time), statuses, events per photo."""
    with engine.connect() as conn:
        one = lambda sql, **kw: conn.execute(sa.text(sql), kw).scalar()  # noqa: E731
        state = {
            "pending": one("SELECT count(*) FROM photo WHERE status = 'pending'"),
            "unsent": one("SELECT count(*) FROM photo WHERE status = 'pending' AND queued_at IS NULL"),
            "photos": one("SELECT count(*) FROM photo"),
        }
        if since is not None:
            state["not_resent"] = one("SELECT count(*) FROM photo WHERE status = 'pending' AND "
                                      "(queued_at IS NULL OR queued_at < :since)", since=since)
    return state


def totals(engine) -> dict:
    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.text("SELECT status, count(*) FROM photo GROUP BY status")).all())
        events = conn.execute(sa.text(
            "SELECT count(*), count(DISTINCT CAST(data AS json)->>'photo_id') FROM case_event WHERE kind LIKE 'photo_%'")).one()
        attempts = dict(conn.execute(sa.text("SELECT attempts, count(*) FROM photo GROUP BY attempts")).all())
        cases = conn.execute(sa.text("SELECT count(*) FROM case_record")).scalar()
        matching = conn.execute(sa.text("SELECT count(*) FROM case_record WHERE matching_status = 'pending'")).scalar()
    return {"cases": cases, "photos": statuses, "photo_events": {"total": events[0], "distinct_photos": events[1]},
            "attempts": {str(k): v for k, v in sorted(attempts.items())}, "cases_matching_pending": matching}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arrivals", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--outage", type=float, default=15.0, help="seconds Redis stays down")
    parser.add_argument("--think", default="5,15", help="seconds a clerk takes between registrations, min,max "
                        "(as bench/load); 0,0 = back to back (saturation)")
    parser.add_argument("--photo-side", type=int, default=1024)
    parser.add_argument("--drain-timeout", type=float, default=900)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--name", default="faults")
    args = parser.parse_args()
    think = tuple(float(x) for x in args.think.split(","))

    logs = ROOT / "bench" / "results" / "tmp" / args.name
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.iterdir():
        if old.is_file():
            old.unlink()
    work = Path(tempfile.mkdtemp(prefix="huijia-faults-"))
    database = Database("huijia_faults")
    redis = ThrowawayRedis(work)
    redis.start()
    tokens = seed(database.url, args.clients)
    settings = {"HUIJIA_SWEEP_INTERVAL_SECONDS": 15, "HUIJIA_PENDING_PHOTO_SWEEP_SECONDS": 300,
                "HUIJIA_BROKER_RETRY_SECONDS": 5}  # the defaults, written out
    env = stack_env({"HUIJIA_DATABASE_URL": database.url, "HUIJIA_BROKER_URL": redis.url,
                     "HUIJIA_TEMPLATE_KEY": secrets.token_urlsafe(32),
                     "HUIJIA_INSTANCE_DIR": str(work / "instance"), "HUIJIA_MEDIA_DIR": str(work / "media"),
                     "HUIJIA_LOGIN_RATE_LIMIT": "1000 per minute"}, **settings)
    stack = Supervised.processes(env, logs / "supervisor.log", web_workers=4, threads=None, workers=2, concurrency=2,
                                 web_args=f"--access-logfile {logs / 'access.log'}")
    engine = sa.create_engine(database.url)
    result: dict = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "host": platform.node(),
                    "cpus": os.cpu_count(), "load_average_before": [round(x, 1) for x in os.getloadavg()],
                    "database": database.where, "settings": settings,
                    "arrivals": args.arrivals, "clients": args.clients, "outage_s": args.outage, "think_s": think,
                    "photo_side": args.photo_side}
    try:
        stack.wait_ready(180)
        data = photos(args.arrivals, args.photo_side)
        log(f"stack up on {stack.base}; {args.arrivals} arrivals from {args.clients} clients")
        clients = Clients(stack.base, tokens["staff"][:args.clients], data, think)
        load_started = time.monotonic()
        threads = clients.run()

        wait_for(lambda: clients.answered() >= args.arrivals // 5, 600, interval=0.1, what="20 % answered")
        killed_at = time.monotonic()
        killed = stack.kill_background()
        log(f"SIGKILL {killed}")
        stack.wait_restarted(killed, 120)
        result["kill"] = {"processes": {k: len(v) for k, v in killed.items()},
                          "all_restarted_s": round(time.monotonic() - killed_at, 1)}

        wait_for(lambda: clients.answered() >= 2 * args.arrivals // 5, 600, interval=0.1, what="40 % answered")
        redis.stop()
        down_at = time.monotonic()
        log(f"Redis SIGKILLed; down for {args.outage:.0f} s")
        health_down = None
        while time.monotonic() - down_at < args.outage:
            if health_down is None:
                try:
                    health_down = requests.get(f"{stack.base}/healthz", timeout=10).json()
                except requests.RequestException:
                    pass
            time.sleep(0.2)
        back_utc = datetime.now(timezone.utc)
        redis.start()
        up_at = time.monotonic()
        log("Redis back (empty)")

        requeued_s = None
        while time.monotonic() - up_at < args.drain_timeout:
            state = db_state(engine, since=back_utc)
            if requeued_s is None and state["not_resent"] == 0:
                requeued_s = round(time.monotonic() - up_at, 1)
                log(f"every photo pending at the return re-sent or finished after {requeued_s} s")
            if requeued_s is not None and state["pending"] == 0 and clients.answered() == args.arrivals:
                break
            time.sleep(0.5)
        drained_s = round(time.monotonic() - up_at, 1)
        for t in threads:
            t.join(60)
        load_s = round(time.monotonic() - load_started, 1)

        # A hung beat: the supervisor sees it alive; only its missing ticks tell.
        beat = stack.pids()["beat"]
        os.kill(beat, signal.SIGSTOP)
        hung_at = time.monotonic()
        try:
            wait_for(lambda: requests.get(f"{stack.base}/healthz", timeout=10).json()["beat"]["state"] == "stale",
                     300, interval=0.5, what="the hung beat on /healthz")
            beat_shown_s = round(time.monotonic() - hung_at, 1)
        finally:
            os.kill(beat, signal.SIGCONT)
        log(f"hung beat shown on /healthz after {beat_shown_s} s")
        health_end = requests.get(f"{stack.base}/healthz", timeout=30).json()
    finally:
        stack.stop()
        redis.stop()

    answers = clients.answers
    during = [a["ms"] for a in answers if down_at <= a["started"] < up_at]
    before = [a["ms"] for a in answers if a["started"] < killed_at]
    ok = [a for a in answers if a["status"] == 201]
    final = totals(engine)
    pending = final["photos"].get("pending", 0)
    result.update({
        "answers": {"total": len(answers), "201": len(ok),
                    "other": sorted({str(a["status"]) for a in answers if a["status"] != 201}),
                    "queued_when_broker_returns": sum(a["processing"] == "queued_when_broker_returns" for a in ok)},
        "lost": args.arrivals - len(ok) + max(0, len(ok) - final["cases"]),
        "left_pending": pending,
        "exactly_once": final["photo_events"]["total"] == final["photo_events"]["distinct_photos"] == sum(final["photos"].values()),
        "intake_ms": {
            "before_faults": {"n": len(before), "p50": pct(before, .5), "p95": pct(before, .95)},
            "during_outage": {"n": len(during), "p50": pct(during, .5), "p95": pct(during, .95),
                              "max": round(max(during), 1) if during else None},
            "all": {"n": len(answers), "p50": pct([a["ms"] for a in answers], .5),
                    "p95": pct([a["ms"] for a in answers], .95)},
        },
        "broker_back_to_all_requeued_s": requeued_s,
        "broker_back_to_all_finished_s": drained_s,
        "load_s": load_s,
        "hung_beat_shown_on_healthz_s": beat_shown_s,
        "beat_stale_after_s": 2 * settings["HUIJIA_SWEEP_INTERVAL_SECONDS"],
        "healthz_during_outage": health_down,
        "healthz_at_end": health_end,
        "totals": final,
    })
    engine.dispose()
    database.drop()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    (args.out / f"{args.name}.md").write_text(markdown(result))
    log(f"written {args.out / (args.name + '.md')}")
    print(markdown(result))
    return 0


def markdown(r: dict) -> str:
    intake = r["intake_ms"]
    target = TARGETS
    met = lambda ok: "met" if ok else "**not met**"  # noqa: E731
    p95_out = intake["during_outage"]["p95"]
    lines = [
        f"# Faults under load ({r['when']}, {r['cpus']} cores, load average before the run "
        f"{r['load_average_before']}, {r['database']})",
        "",
        f"{r['arrivals']} arrivals from {r['clients']} clients (photo {r['photo_side']} px, "
        f"{'no pause' if not r['think_s'][1] else 'each pausing %g–%g s between registrations' % tuple(r['think_s'])}, "
        f"{r['load_s']} s in all); every worker "
        f"process and beat SIGKILLed at 20 % ({r['kill']['processes']}, all back under the supervisor in "
        f"{r['kill']['all_restarted_s']} s); Redis without persistence SIGKILLed at 40 % and started again "
        f"{r['outage_s']:.0f} s later. Settings: {r['settings']}.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| registrations lost | {r['lost']} of {r['arrivals']} (answers: {r['answers']['201']} × 201"
        + (f", other {r['answers']['other']}" if r["answers"]["other"] else "") + ") | 0 |",
        f"| photos left pending | {r['left_pending']} | 0 |",
        f"| every photo finished exactly once | {'yes' if r['exactly_once'] else '**no**'} "
        f"({r['totals']['photo_events']['total']} events, {r['totals']['photo_events']['distinct_photos']} photos) | yes |",
        f"| intake p95 during the outage | {p95_out} ms (p50 {intake['during_outage']['p50']}, max "
        f"{intake['during_outage']['max']}, n {intake['during_outage']['n']}) | ≤ {target['intake_p95_outage_ms']} ms: "
        f"{met(p95_out is not None and p95_out <= target['intake_p95_outage_ms'])} |",
        f"| intake p95 before the faults / whole run | {intake['before_faults']['p95']} / {intake['all']['p95']} ms | — |",
        f"| broker back → every photo pending then re-sent (or finished) | {r['broker_back_to_all_requeued_s']} s | "
        f"≤ {target['requeued_after_return_s']} s: "
        f"{met(r['broker_back_to_all_requeued_s'] is not None and r['broker_back_to_all_requeued_s'] <= target['requeued_after_return_s'])} |",
        f"| broker back → all answered and every photo finished (arrivals go on meanwhile) | "
        f"{r['broker_back_to_all_finished_s']} s | — |",
        f"| hung beat (SIGSTOP) → /healthz `beat: stale` | {r['hung_beat_shown_on_healthz_s']} s | ≤ "
        f"{r['beat_stale_after_s']} s (2 sweep intervals): {met(r['hung_beat_shown_on_healthz_s'] <= r['beat_stale_after_s'])} |",
        "",
        f"Registrations answered `queued_when_broker_returns`: {r['answers']['queued_when_broker_returns']}. "
        f"Photo statuses: {r['totals']['photos']}; attempts per photo: {r['totals']['attempts']}.",
        "",
        f"/healthz during the outage: `{json.dumps(r['healthz_during_outage'], ensure_ascii=False)}`",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
