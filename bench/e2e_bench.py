"""End-to-end benchmark through the real services: dev-set matching, and upload → candidates latency.

    python bench/e2e_bench.py [--engines sface,dlib] [--gallery 100000] [--arrivals 30] [--strangers 1997] [--out bench/results]

Accuracy (in-process): a fresh PostgreSQL database migrated by Alembic. For each dev-set identity with at
least two photos, photo 1 becomes a missing-person report (reports.create_report) and every other photo an
arrival of its own (intake.register_arrival). Photos go through pipeline.process_photo and
candidates.match_report / match_case exactly as the workers call them; then each case is scored on the
candidates the service stored. Photos the engine will not match automatically (multiple_faces,
low_quality, no_face) are counted apart, then matched again as if staff had picked the largest face.

Latency (processes): gunicorn, a `default` and a `search` Celery worker (-c 1 each) on the same database
and Redis db 14; the gallery is pre-filled with synthetic faces by COPY plus the real dev-set reports;
arrivals are POSTed to /api/v1/cases one at a time and polled until matching is done.

Writes <out>/e2e.json and <out>/e2e.md; drops the database at the end (--keep-db keeps it).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlalchemy as sa

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bench.calibrate import DEFAULT_FACES, EAST_ASIAN, read_manifest  # noqa: E402
from bench.operating_point import sex  # noqa: E402
from bench.scratch_db import create_database, drop_database  # noqa: E402

log = logging.getLogger("e2e_bench")

ADMIN_URL = os.environ.get("HUIJIA_BENCH_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("HUIJIA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
DB_NAME = os.environ.get("HUIJIA_BENCH_DB", "huijia_bench")  # two checkouts benching at once need two names
NO_AUTO_MATCH = ("multiple_faces", "low_quality", "no_face", "invalid")
STAFF_CAN_CHOOSE = ("multiple_faces", "low_quality")
POLL_SECONDS = 0.05
WARM_TIMEOUT_S = 120
# The first search loads the whole gallery from the database: minutes at 1M faces on a small host.
COLD_TIMEOUT_S = 900
SYNTHETIC_SEED = 20261123
EXAMPLES = 15


# -- database and app


def bench_env(database_url: str, redis_url: str, instance: Path, engine: str) -> dict[str, str]:
    """The HUIJIA_* environment of the bench, shared by this process and the stack's processes."""
    return {
        "HUIJIA_DATABASE_URL": database_url,
        "HUIJIA_BROKER_URL": redis_url,
        "HUIJIA_INSTANCE_DIR": str(instance),
        "HUIJIA_MEDIA_DIR": str(instance / "media"),
        "HUIJIA_SECRET_KEY": secrets.token_urlsafe(32),
        "HUIJIA_TEMPLATE_KEY": secrets.token_urlsafe(32),
        "HUIJIA_FACE_ENGINE": engine,
    }


def make_app(env: dict[str, str]):
    from service import create_app
    from service.config import Settings

    os.environ.update(env)  # this process is the bench: Settings reads the environment only
    app = create_app(Settings.from_env())
    # One line per photo from the services would drown the bench's own progress lines.
    for name in ("service", "workers", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return app


def reset() -> None:
    """Empty every table and forget cached indexes (inside an app context)."""
    from service.extensions import db
    from service.matching import candidates

    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    db.session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.session.commit()
    candidates.reset_indexes()


def seed_staff(password: str):
    """A station and one staff user of it (the clerk who registers everything)."""
    from service.extensions import db
    from service.models import Station
    from service.services.users import create_user

    db.session.add(Station(code="BENCH", name="基准测试救助管理站", city="天津"))
    db.session.commit()
    return create_user("bench", "staff", password, "BENCH")


def flush_redis(url: str) -> None:
    """Drop messages the in-process part queued: no worker should replay them later."""
    import redis

    redis.Redis.from_url(url).flushdb()


# -- dev set


@dataclass(frozen=True)
class DevPhoto:
    identity: str
    path: Path
    number: int

    @property
    def label(self) -> str:
        return f"{self.identity}/{self.path.name}"


def dev_identities(faces_dir: Path, limit: int | None = None) -> dict[str, list[DevPhoto]]:
    """Identities with at least two photos, photos in number order (photo 1 first)."""
    by_identity: dict[str, list[DevPhoto]] = defaultdict(list)
    for row in read_manifest(faces_dir):
        stem = Path(row["file"]).stem
        by_identity[row["identity"]].append(
            DevPhoto(row["identity"], faces_dir / row["file"], int(stem) if stem.isdigit() else 0)
        )
    people = {k: sorted(v, key=lambda p: p.number) for k, v in sorted(by_identity.items()) if len(v) >= 2}
    return dict(list(people.items())[:limit]) if limit else people


def person_fields(identity: str) -> dict:
    """What a clerk always records, on the report and on the case alike: sex (the fusion's gate)."""
    return {"gender": sex(identity)}


def upload(photo: DevPhoto):
    from service.services.intake import Upload

    return Upload(photo.path.name, photo.path.read_bytes())


def max_side(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as img:
        return max(img.size)


# -- accuracy through the services (in-process)


@dataclass
class Registry:
    """Who is who: the bench's ground truth for the rows the services created."""

    report_of: dict[int, str] = dataclasses.field(default_factory=dict)  # report_id -> identity
    case_of: dict[int, str] = dataclasses.field(default_factory=dict)  # case_id -> identity
    file_of_case: dict[int, str] = dataclasses.field(default_factory=dict)
    report_for: dict[str, int] = dataclasses.field(default_factory=dict)  # identity -> report_id
    with_bystander: set[int] = dataclasses.field(default_factory=set)  # cases whose photo had a bystander pasted in


@dataclass
class Timing:
    photo: str
    side: int
    ms: float
    status: str


def process(photo_ids: list[int], settings, timings: list[Timing], photo: DevPhoto) -> str:
    """Run pipeline.process_photo as the worker would; returns the last photo's status."""
    from service.matching import photos as pipeline

    status = "missing"
    for photo_id in photo_ids:
        started = time.perf_counter()
        status = pipeline.process_photo(photo_id, settings).result
        timings.append(Timing(photo.label, max_side(photo.path), (time.perf_counter() - started) * 1000, status))
    return status


def file_reports(staff, people: dict[str, list[DevPhoto]], settings, registry: Registry, timings: list[Timing]) -> None:
    """Photo 1 of each identity becomes a missing-person report, processed and reverse-matched."""
    from service.matching import candidates
    from service.services.reports import create_report

    for identity, photos in people.items():
        new = create_report(staff, person_fields(identity), [upload(photos[0])], settings)
        report_id = new.report.id
        registry.report_of[report_id], registry.report_for[identity] = identity, report_id
        # The worker queues matching whatever the photo's outcome (an ambiguous photo is searched with each face).
        process([p.id for p in new.report.photos], settings, timings, photos[0])
        candidates.match_report(report_id, settings)


def file_strangers(staff, strangers: list[Path], settings, registry: Registry, timings: list[Timing]) -> None:
    """Strangers (../shared/faces-distractors) as missing-person reports of people nobody here is: every
    candidate they get is a false one. Their sex is not recorded (the manifest has none), so no sex gate."""
    from service.matching import candidates
    from service.services.reports import create_report

    for path in strangers:
        new = create_report(staff, {}, [upload(DevPhoto(f"stranger:{path.stem}", path, 1))], settings)
        registry.report_of[new.report.id] = f"stranger:{path.stem}"
        process([p.id for p in new.report.photos], settings, timings, DevPhoto(path.stem, path, 1))
        candidates.match_report(new.report.id, settings)


def stranger_files(distractors: Path, n: int) -> list[Path]:
    """The first n strangers of the manifest (the same person as a dev identity left out, as bench/open_set.py)."""
    import csv

    from bench.open_set import SAME_PERSON

    with open(distractors / "manifest.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["identity"] not in SAME_PERSON]
    return [distractors / r["file"] for r in rows[:n]]


def with_bystander(photo: DevPhoto, bystander: DevPhoto, corner: int) -> "Upload":  # noqa: F821
    """The arrival's photo with a smaller photo of someone else pasted into a corner (a passer-by, a relative):
    its longer side is 0.35 of the photo's shorter side (the face in it smaller than the arrival's)."""
    import io

    from PIL import Image

    from service.services.intake import Upload

    base = Image.open(photo.path).convert("RGB")
    small = Image.open(bystander.path).convert("RGB")
    scale = 0.35 * min(base.size) / max(small.size)
    small = small.resize((max(1, round(small.width * scale)), max(1, round(small.height * scale))))
    x = 0 if corner in (0, 3) else base.width - small.width
    y = 0 if corner in (0, 1) else base.height - small.height
    base.paste(small, (x, y))
    buf = io.BytesIO()
    base.save(buf, "JPEG", quality=92)
    return Upload(photo.path.name, buf.getvalue())


def register_arrivals(staff, people: dict[str, list[DevPhoto]], settings, registry: Registry, timings: list[Timing],
                      bystander_every: int = 0) -> None:
    """Every other photo is one arrival, matched as the workers do (whatever its photo's outcome). With
    `bystander_every` N, every Nth arrival's photo gets a smaller face of another identity pasted into a corner."""
    from service.matching import candidates
    from service.services.intake import register_arrival

    identities = list(people)
    count = 0
    for n, photos in enumerate(people.values()):
        for photo in photos[1:]:
            count += 1
            composed = bystander_every and count % bystander_every == 0
            if composed:
                other = people[identities[(n + 1 + count) % len(identities)]]
                if other[0].identity == photo.identity:
                    other = people[identities[(n + 2 + count) % len(identities)]]
                sent = with_bystander(photo, other[-1], count % 4)
            else:
                sent = upload(photo)
            reg = register_arrival(staff, person_fields(photo.identity), [sent], settings)
            if composed:
                registry.with_bystander.add(reg.case.id)
            case_id = reg.case.id
            registry.case_of[case_id], registry.file_of_case[case_id] = photo.identity, photo.label
            process([p.id for p in reg.case.photos], settings, timings, photo)
            candidates.match_case(case_id, settings)


def staff_pick_largest(settings, engine_version: str) -> dict[str, int]:
    """Simulate staff choosing faces[0] on every photo the engine left to a person, then match again."""
    from service.extensions import db
    from service.models import Face, Photo
    from service.matching import candidates
    from service.matching.faces import choose_face

    photos = db.session.scalars(sa.select(Photo).where(Photo.status.in_(STAFF_CAN_CHOOSE)).order_by(Photo.id)).all()
    chosen_reports, chosen_cases = [], []
    for photo in photos:
        largest = db.session.scalar(
            sa.select(Face).where(Face.photo_id == photo.id, Face.engine == engine_version).order_by(Face.face_index).limit(1)
        )
        if largest is None or largest.template_id is None:
            continue
        choose_face(photo, largest.id, engine_version)
        (chosen_cases if photo.case_id is not None else chosen_reports).append(photo.case_id or photo.report_id)
    db.session.commit()
    # Reports first, so a case whose face was also chosen meets its report in match_case.
    for report_id in chosen_reports:
        candidates.match_report(report_id, settings)
    for case_id in chosen_cases:
        candidates.match_case(case_id, settings)
    return {"report_photos": len(chosen_reports), "case_photos": len(chosen_cases)}


def photo_statuses() -> dict[str, dict[int, str]]:
    """Status of each case's and report's photo (one photo each in this bench)."""
    from service.extensions import db
    from service.models import Photo

    out: dict[str, dict[int, str]] = {"case": {}, "report": {}}
    for photo in db.session.scalars(sa.select(Photo)):
        if photo.case_id is not None:
            out["case"][photo.case_id] = photo.status
        else:
            out["report"][photo.report_id] = photo.status
    return out


def east_asian_pair(a: str, b: str) -> bool:
    return a in EAST_ASIAN and b in EAST_ASIAN


def evaluate(registry: Registry) -> dict:
    """Score every case on the candidates the service stored: rank-1, recall, false proposals."""
    from service.extensions import db
    from service.models import CandidateMatch

    statuses = photo_statuses()
    candidates = db.session.scalars(sa.select(CandidateMatch)).all()
    gallery: dict[int, list] = defaultdict(list)
    arrival_pairs = []
    for row in candidates:
        (gallery[row.case_id] if row.kind == "gallery" else arrival_pairs).append(row)

    cases = sorted(registry.case_of)
    top_right, found, matchable = [], [], []
    wrong_gallery, misses, with_wrong = [], [], []
    for case_id in cases:
        identity = registry.case_of[case_id]
        rows = sorted(gallery[case_id], key=lambda r: (-r.score, r.face_distance))
        truth = registry.report_for[identity]
        can_match = statuses["case"].get(case_id) == "processed" and statuses["report"].get(truth) == "processed"
        right_first = bool(rows) and rows[0].report_id == truth
        top_right.append(right_first)
        found.append(any(r.report_id == truth for r in rows))
        matchable.append(can_match)
        wrong_gallery += [(identity, registry.report_of[r.report_id], r) for r in rows if r.report_id != truth]
        with_wrong.append(any(r.report_id != truth for r in rows))
        if not right_first:
            misses.append(_miss(case_id, registry, statuses, truth, rows))

    n = len(cases)
    top_right, found, matchable = np.array(top_right), np.array(found), np.array(matchable)
    wrong_arrivals = [
        (registry.case_of[r.case_id], registry.case_of[r.other_case_id], r)
        for r in arrival_pairs if registry.case_of[r.case_id] != registry.case_of[r.other_case_id]
    ]
    right_arrivals = len(arrival_pairs) - len(wrong_arrivals)
    false_arrivals = _false_summary(wrong_arrivals, n)
    arrivals_per_identity = Counter(registry.case_of.values())
    possible_pairs = sum(k * (k - 1) // 2 for k in arrivals_per_identity.values())
    return {
        "cases": n,
        "cases_auto_matchable": int(matchable.sum()),
        "rank1": _frac(top_right.sum(), n),
        # Wrong candidates do not depend on the true report being there (every owner is scored on its own), so
        # the share of cases with one is the FPIR of the same searches without their report.
        "fpir": _frac(sum(with_wrong), n),
        "stranger_reports": sum(v.startswith("stranger:") for v in registry.report_of.values()),
        "rank1_bystander_photos": _frac(sum(t for c, t in zip(cases, top_right) if c in registry.with_bystander),
                                        len(registry.with_bystander)),
        "bystander_photos": len(registry.with_bystander),
        "rank1_multi_face_photos": _multi_face_rank1(cases, top_right),
        "recall": _frac(found.sum(), n),
        "rank1_auto_matchable": _frac((top_right & matchable).sum(), matchable.sum()),
        "recall_auto_matchable": _frac((found & matchable).sum(), matchable.sum()),
        "case_photo_status": dict(Counter(statuses["case"].values())),
        "report_photo_status": dict(Counter(statuses["report"].values())),
        "cases_whose_report_has_no_auto_face": sum(
            statuses["report"].get(registry.report_for[registry.case_of[c]]) != "processed" for c in cases
        ),
        "gallery_false": _false_summary(wrong_gallery, n),
        "arrival_pairs": {
            "proposed_right": right_arrivals,
            "same_person_pairs": possible_pairs,
            "recall": _frac(right_arrivals, possible_pairs),
            **{f"false_{k}": v for k, v in false_arrivals.items()},
        },
        "misses": misses[:EXAMPLES],
        "misses_total": len(misses),
    }


def _multi_face_rank1(cases: list[int], top_right) -> dict:
    """Rank-1 of the cases whose photo shows two or more faces (natural or pasted bystanders)."""
    from service.extensions import db
    from service.models import Face, Photo

    multi = set(db.session.scalars(
        sa.select(Photo.case_id).join(Face, Face.photo_id == Photo.id).where(Photo.case_id.is_not(None))
        .group_by(Photo.case_id).having(sa.func.count(Face.id) > 1)))
    rights = [bool(t) for c, t in zip(cases, top_right) if c in multi]
    return {"cases": len(rights), "rank1": _frac(sum(rights), len(rights))}


def _miss(case_id: int, registry: Registry, statuses, truth: int, rows) -> dict:
    """Why a case did not get its report first: no face, no candidate, or someone else ranked above."""
    status = statuses["case"].get(case_id)
    if status != "processed":
        why = f"case photo {status}"
    elif statuses["report"].get(truth) != "processed":
        why = f"report photo {statuses['report'].get(truth)}"
    elif not rows:
        why = "no candidate under the cut"
    elif all(r.report_id != truth for r in rows):
        why = "true report above the cut; others proposed"
    else:
        why = "true report proposed but not first"
    top = rows[0] if rows else None
    return {
        "photo": registry.file_of_case[case_id],
        "why": why,
        "top": registry.report_of[top.report_id] if top else None,
        "top_distance": round(top.face_distance, 4) if top else None,
    }


def _false_summary(wrong: list[tuple[str, str, object]], cases: int) -> dict:
    closest = sorted(wrong, key=lambda w: w[2].face_distance)[:EXAMPLES]
    return {
        "total": len(wrong),
        "per_case": round(len(wrong) / cases, 4) if cases else None,
        "east_asian": sum(east_asian_pair(a, b) for a, b, _ in wrong),
        "likely_band": sum(r.band == "likely" for _, _, r in wrong),
        "examples": [
            {"case": a, "other": b, "distance": round(r.face_distance, 4), "band": r.band} for a, b, r in closest
        ],
    }


def _frac(num, den) -> float | None:
    return round(float(num) / float(den), 4) if den else None


def pipeline_speed(timings: list[Timing], side: int = 1024) -> dict:
    """process_photo wall time (normalise, detect, encode, crops, database) on photos of `side` px."""
    at_side = [t.ms for t in timings if t.side == side]
    every = [t.ms for t in timings]
    out = {"photos_all": len(every), "ms_median_all": _round(np.median(every)) if every else None}
    if at_side:
        median = float(np.median(at_side))
        out.update(side=side, photos=len(at_side), ms_median=_round(median), ms_p90=_round(np.percentile(at_side, 90)),
                   photos_per_s=_round(1000 / median))
    return out


def accuracy(app, settings, people: dict[str, list[DevPhoto]], password: str, bystander_every: int = 0,
             strangers: list[Path] = ()) -> dict:
    """One engine through the services: reports, arrivals, automatic matching, then staff choice."""
    from service.matching.evidence import thresholds
    from service.matching.faces import engine_for

    engine = engine_for(settings)
    with app.app_context():
        reset()
        staff = seed_staff(password)
        registry, timings = Registry(), []
        started = time.perf_counter()
        file_reports(staff, people, settings, registry, timings)
        file_strangers(staff, list(strangers), settings, registry, timings)
        register_arrivals(staff, people, settings, registry, timings, bystander_every)
        automatic = evaluate(registry)
        chosen = staff_pick_largest(settings, engine.version)
        with_choice = evaluate(registry)
        seconds = time.perf_counter() - started
    result = {
        "engine": settings.face_engine,
        "version": engine.version,
        "cuts_adult": dict(zip(("likely", "possible"), thresholds(engine)["adult"])),
        "identities": len(people),
        "bystander_every": bystander_every,
        "reports": len(registry.report_of),
        "cases": len(registry.case_of),
        "seconds": round(seconds, 1),
        "pipeline_speed": pipeline_speed(timings),
        "automatic": automatic,
        "staff_choice": {"photos_chosen": chosen, **with_choice},
    }
    log.info(
        "event=accuracy engine=%s cases=%d rank1=%s recall=%s gallery_false_per_case=%s ea_false=%s "
        "rank1_with_choice=%s s=%.0f",
        settings.face_engine, automatic["cases"], automatic["rank1"], automatic["recall"],
        automatic["gallery_false"]["per_case"], automatic["gallery_false"]["east_asian"],
        with_choice["rank1"], seconds,
    )
    return result


# -- the real stack as processes


def pg_url(database_url: str) -> str:
    """The SQLAlchemy URL as psycopg wants it."""
    return sa.engine.make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def fill_synthetic(database_url: str, n_faces: int, engine_version: str) -> dict:
    """COPY n_faces synthetic report faces (1-4 per report, clustered like real ones) into an empty gallery,
    their templates sealed like the app's (matching.templates)."""
    import psycopg

    from service.matching.index.synthetic import synthetic_gallery
    from service.matching.sealed import new_template_id
    from service.matching.templates import keyring

    ring = keyring()

    started = time.perf_counter()
    gallery = synthetic_gallery(n_faces, photos_per_identity=(1, 4), seed=SYNTHETIC_SEED)
    owners = gallery.identity_of + 1  # report ids start at 1 in the truncated database
    n_reports = int(owners.max())
    with psycopg.connect(pg_url(database_url)) as conn, conn.cursor() as cur:
        with cur.copy("COPY gallery_report (id, status, source, external_id, gender, matching_status) FROM STDIN") as copy:
            for report_id in range(1, n_reports + 1):
                copy.write_row((report_id, "open", "import", f"synthetic-{report_id}", "unknown", "done"))
        with cur.copy(
            "COPY photo (id, report_id, sha256, mime, size_bytes, width, height, status, attempts) FROM STDIN"
        ) as copy:
            for i, owner in enumerate(owners.tolist(), start=1):
                copy.write_row((i, owner, f"{i:064x}", "image/jpeg", 0, 0, 0, "processed", 1))
        template_ids = [new_template_id() for _ in range(n_faces)]
        with cur.copy("COPY face_template (id, engine, key_id, nonce, ciphertext) FROM STDIN") as copy:
            for template_id, vector in zip(template_ids, gallery.vectors):
                sealed = ring.seal(template_id, engine_version, vector)
                copy.write_row((template_id, engine_version, sealed.key_id, sealed.nonce, sealed.ciphertext))
        with cur.copy(
            "COPY face (id, photo_id, engine, face_index, owner_kind, owner_id, box, det_score, quality, "
            "quality_ok, template_id, selected) FROM STDIN"
        ) as copy:
            for i, (owner, template_id) in enumerate(zip(owners.tolist(), template_ids), start=1):
                copy.write_row((i, i, engine_version, 0, "report", owner, "[0, 0, 0, 0]", 1.0, "{}", True,
                                template_id, True))
        # Explicit ids were written: move the sequences past them for the rows the services add.
        for table in ("gallery_report", "photo", "face"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        conn.autocommit = True
        cur.execute("ANALYZE gallery_report, photo, face_template, face")
    seconds = time.perf_counter() - started
    log.info("event=gallery_filled faces=%d reports=%d s=%.1f", n_faces, n_reports, seconds)
    return {"faces": n_faces, "reports": n_reports, "seconds": round(seconds, 1)}


def pick_arrivals(people: dict[str, list[DevPhoto]], n: int) -> list[DevPhoto]:
    """The largest non-report photos: a phone upload is a full photo, not a 112 px crop."""
    pool = [p for photos in people.values() for p in photos[1:]]
    pool.sort(key=lambda p: (-p.path.stat().st_size, p.label))
    return pool[:n]


@dataclass
class Stack:
    base: str
    procs: dict
    logdir: Path


@contextmanager
def running_stack(env: dict[str, str], logdir: Path) -> Iterator[Stack]:
    """gunicorn + a `default` and a `search` worker, started the way tests/support/procs.py does."""
    from tests.support.procs import child_env, spare_port, start_web, start_worker, wait_for

    port = spare_port()
    environ = child_env(env)
    procs = {}
    try:
        procs["web"] = start_web(environ, port, logdir / "web.log")
        shards = int(environ.get("HUIJIA_SEARCH_SHARDS", "1"))
        # With shards, a search a shard missed is retried by the beat job sweep_search_gaps, as in production.
        beat = ["--beat", "-s", str(logdir / "beat-schedule")] if shards > 1 else []
        procs["default"] = start_worker(environ, logdir / "worker-default.log", "-c", "1", "-n", "default@%h",
                                        *beat, queues="default")
        procs["search"] = start_worker(environ, logdir / "worker-search.log", "-c", "1", "-n", "search@%h",
                                       queues="search")
        # HUIJIA_SEARCH_SHARDS > 1: the search worker coordinates, one worker per shard holds the faces.
        for k in range(shards if shards > 1 else 0):
            procs[f"shard{k}"] = start_worker({**environ, "HUIJIA_SEARCH_SHARD": str(k)}, logdir / f"worker-shard{k}.log",
                                              "-P", "solo", "-n", f"shard{k}@%h", queues=f"search.{k}")
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _healthy(base), 60, what="gunicorn /healthz")
        for name in ("default", "search"):
            wait_for(lambda name=name: "ready." in procs[name].tail(200), 60, what=f"worker {name}")
        for name in [n for n in procs if n.startswith("shard")]:
            # A shard loads its part of the gallery as it starts (the unsharded worker loads on the first arrival).
            wait_for(lambda name=name: "event=shard_ready" in procs[name].tail(400), 900, what=f"worker {name}")
        yield Stack(base, procs, logdir)
    finally:
        for proc in procs.values():
            proc.stop()


def _healthy(base: str) -> bool:
    import requests

    try:
        return requests.get(f"{base}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def api_session(base: str, username: str, password: str):
    """A requests session carrying a bearer token from POST /api/v1/auth/token."""
    import requests

    session = requests.Session()
    resp = session.post(f"{base}/api/v1/auth/token", json={"username": username, "password": password}, timeout=30)
    resp.raise_for_status()
    session.headers["Authorization"] = f"Bearer {resp.json()['token']}"
    return session


def one_arrival(session, base: str, photo: DevPhoto, timeout_s: float) -> dict:
    """POST one case with its photo, poll until matching is done; times upload → candidates."""
    started = time.perf_counter()
    with open(photo.path, "rb") as fh:
        resp = session.post(f"{base}/api/v1/cases", data=person_fields(photo.identity),
                            files={"photos": (photo.path.name, fh, "image/jpeg")},
                            headers={"Idempotency-Key": uuid.uuid4().hex}, timeout=60)
    resp.raise_for_status()
    body = resp.json()
    case_id, photo_id = body["id"], body["photos"][0]["id"]
    upload_ms = (time.perf_counter() - started) * 1000
    outcome = "timeout"
    while time.perf_counter() - started < timeout_s:
        body = session.get(f"{base}/api/v1/cases/{case_id}", timeout=30).json()
        if body["matching_status"] == "done":
            outcome = "done"
            break
        statuses = [p["status"] for p in body["photos"]]
        # Such a photo is never matched automatically and matching_status stays "pending".
        if statuses and all(s in NO_AUTO_MATCH for s in statuses):
            outcome = "no_auto_match:" + statuses[0]
            break
        time.sleep(POLL_SECONDS)
    items = session.get(f"{base}/api/v1/cases/{case_id}/candidates", timeout=30).json()["items"]
    return {
        "photo": photo.label,
        "identity": photo.identity,
        "case_id": case_id,
        "photo_id": photo_id,
        "outcome": outcome,
        "upload_ms": round(upload_ms, 1),
        "total_ms": round((time.perf_counter() - started) * 1000, 1),
        "candidates": len(items),
        "report_ids": [c["report_id"] for c in items if c["kind"] == "gallery"],  # best score first
    }


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def worker_rss(pid: int) -> dict:
    """VmRSS of a prefork worker: the master and its children (the child holds the index)."""
    kids = children(pid)
    return {"master_mb": _mb(rss_kb(pid)), "children_mb": [_mb(rss_kb(k)) for k in kids]}


def _mb(kb: int | None) -> float | None:
    return None if kb is None else round(kb / 1024, 1)


LOG_EVENTS = {
    "index": re.compile(r"event=index_refresh .*?added=(\d+) total=(\d+) .*?ms=(\d+)"),
    "photo": re.compile(r"event=photo_processed photo_id=(\d+) status=(\w+) ms=(\d+)"),
    "match": re.compile(r"event=match_case case_id=(\d+) .*?ms=(\d+)"),
}


def parse_logs(logdir: Path) -> dict:
    """Service timings from the workers' key=value logs: index loads, photo processing, matching."""
    search = (logdir / "worker-search.log").read_text(errors="replace")
    default = (logdir / "worker-default.log").read_text(errors="replace")
    loads = [(int(a), int(t), int(ms)) for a, t, ms in LOG_EVENTS["index"].findall(search)]
    return {
        "index_loads": loads,
        "photo_ms": {int(p): int(ms) for p, _s, ms in LOG_EVENTS["photo"].findall(default)},
        "match_ms": {int(c): int(ms) for c, ms in LOG_EVENTS["match"].findall(search)},
    }


def stack(app, settings, env: dict[str, str], people, password: str, gallery_n: int, arrivals_n: int,
          logdir: Path) -> dict:
    """Latency of upload → candidates through gunicorn and the workers, with a large gallery."""
    from service.matching.faces import engine_for

    engine = engine_for(settings)
    with app.app_context():
        reset()
        staff = seed_staff(password)
        filled = fill_synthetic(settings.database_url, gallery_n, engine.version)
        registry = Registry()
        file_reports(staff, people, settings, registry, [])
    flush_redis(settings.broker_url)
    arrivals = pick_arrivals(people, arrivals_n)
    logdir.mkdir(parents=True, exist_ok=True)
    for old in logdir.glob("*.log"):
        old.unlink()
    with running_stack({**env, "HUIJIA_FACE_ENGINE": settings.face_engine}, logdir) as running:
        session = api_session(running.base, "bench", password)
        search_pid = running.procs["search"].pid
        rss_before = worker_rss(search_pid)
        results = []
        for i, photo in enumerate(arrivals):
            result = one_arrival(session, running.base, photo, COLD_TIMEOUT_S if i == 0 else WARM_TIMEOUT_S)
            score_candidates(result, registry.report_for.get(photo.identity), filled["reports"])
            results.append(result)
            log.info("event=arrival engine=%s n=%d outcome=%s total_ms=%s candidates=%d right=%s", settings.face_engine,
                     i + 1, result["outcome"], result["total_ms"], result["candidates"], result["right_report_first"])
        rss_after = worker_rss(search_pid)
        shard_rss = {n: worker_rss(p.pid) for n, p in running.procs.items() if n.startswith("shard")}
    flush_redis(settings.broker_url)
    summary = _stack_summary(settings, engine, filled, results, rss_before, rss_after, parse_logs(logdir), len(registry.report_of))
    if shard_rss:
        summary["search_shards"], summary["shard_worker_rss"] = len(shard_rss), shard_rss
    return summary


def score_candidates(result: dict, truth: int | None, synthetic_reports: int) -> None:
    """Right report first?  And the wrong report candidates, those of synthetic strangers apart."""
    ids = result.pop("report_ids")
    wrong = [i for i in ids if i != truth]
    result["right_report_first"] = bool(ids) and ids[0] == truth
    result["wrong_report_candidates"] = len(wrong)
    # Synthetic reports were COPYed first, so they hold ids 1..synthetic_reports.
    result["wrong_synthetic"] = sum(i <= synthetic_reports for i in wrong)


def _stack_summary(settings, engine, filled, results, rss_before, rss_after, logs, real_reports) -> dict:
    done = [r for r in results if r["outcome"] == "done"]
    for r in results:
        r["process_ms"] = logs["photo_ms"].get(r["photo_id"])
        r["match_ms"] = logs["match_ms"].get(r["case_id"])
    # The first matched arrival pays for loading the index (and the engine models): reported apart.
    cold, warm = (done[0], done[1:]) if done else (None, [])
    totals = [r["total_ms"] for r in warm]
    first_load = logs["index_loads"][0] if logs["index_loads"] else None
    before = [mb for mb in rss_before["children_mb"] if mb is not None]
    after = [mb for mb in rss_after["children_mb"] if mb is not None]
    return {
        "engine": settings.face_engine,
        "version": engine.version,
        "gallery": {**filled, "real_reports": real_reports,
                    "indexed_faces": first_load[1] if first_load else None},
        "arrivals": len(results),
        "outcomes": dict(Counter(r["outcome"] for r in results)),
        "cold_first_arrival_ms": cold["total_ms"] if cold else None,
        "cold_index_load_ms": first_load[2] if first_load else None,
        "warm": {
            "n": len(totals),
            **_percentiles(totals),
            "upload_ms_p50": _round(np.median([r["upload_ms"] for r in warm])) if warm else None,
            "process_ms_p50": _median_of(warm, "process_ms"),
            "match_ms_p50": _median_of(warm, "match_ms"),
            "match_ms_p95": _pct_of(warm, "match_ms", 95),
        },
        "right_report_first": _frac(sum(r["right_report_first"] for r in done), len(done)),
        "wrong_report_candidates_per_arrival": _frac(sum(r["wrong_report_candidates"] for r in done), len(done)),
        "wrong_synthetic_per_arrival": _frac(sum(r["wrong_synthetic"] for r in done), len(done)),
        "search_worker_rss": {"before_first_search": rss_before, "after_arrivals": rss_after,
                              "child_mb_before": max(before) if before else None,
                              "child_mb": max(after) if after else None},
        "per_arrival": results,
    }


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None}
    return {"p50_ms": _round(np.percentile(values, 50)), "p95_ms": _round(np.percentile(values, 95)),
            "max_ms": _round(max(values))}


def _median_of(rows: list[dict], key: str):
    values = [r[key] for r in rows if r.get(key) is not None]
    return _round(np.median(values)) if values else None


def _pct_of(rows: list[dict], key: str, q: float):
    values = [r[key] for r in rows if r.get(key) is not None]
    return _round(np.percentile(values, q)) if values else None


def _round(value) -> float:
    return round(float(value), 1)


# -- report


def markdown(report: dict) -> str:
    acc, stk = report.get("accuracy", {}), report.get("stack", {})
    lines = [
        "# End-to-end benchmark (real services)",
        "",
        f"`python bench/e2e_bench.py {' '.join(report['argv'])}` — {report['finished_at']}, {report['runtime_s']} s. "
        f"Dev set: {report['faces_dir']}.",
        "",
    ]
    carried = sorted({f"{part} {engine}: run of {entry['from_run']}" for part in ("accuracy", "stack")
                      for engine, entry in report.get(part, {}).items() if entry.get("from_run")})
    if carried:
        lines += ["Carried over from earlier runs (`--keep-other-results`), not measured by this one: "
                  + "; ".join(carried) + ".", ""]
    if acc:
        lines += _accuracy_table(acc)
    if stk:
        lines += _stack_table(stk)
    return "\n".join(lines) + "\n"


ACCURACY_ROWS = (
    ("engine version", "version"),
    ("cuts (likely / possible), adult", lambda e: f"{e['cuts_adult']['likely']} / {e['cuts_adult']['possible']}"),
    ("reports / cases (one photo each)", lambda e: f"{e['reports']} / {e['cases']}"),
    ("case photo statuses", lambda e: _counts(e["automatic"]["case_photo_status"])),
    ("report photo statuses", lambda e: _counts(e["automatic"]["report_photo_status"])),
    ("**product rank-1: true report ranked first, nobody touching a photo** (all cases)", "automatic.rank1"),
    ("arrival photos with a bystander pasted in (every Nth) / their rank-1",
     lambda e: f"{e['automatic']['bystander_photos']} (every {e.get('bystander_every')}) / {e['automatic']['rank1_bystander_photos']}"),
    ("cases whose photo shows two or more faces / their rank-1",
     lambda e: f"{e['automatic']['rank1_multi_face_photos']['cases']} / {e['automatic']['rank1_multi_face_photos']['rank1']}"),
    ("stranger reports in the gallery (../shared/faces-distractors)", lambda e: e["automatic"].get("stranger_reports", 0)),
    ("FNIR (1 - rank-1) / FPIR (cases with a wrong report candidate)",
     lambda e: f"{round(1 - e['automatic']['rank1'], 4)} / {e['automatic'].get('fpir')}"),
    ("recall: true report among candidates (all cases)", "automatic.recall"),
    ("rank-1 / recall, cases matchable automatically",
     lambda e: f"{e['automatic']['rank1_auto_matchable']} / {e['automatic']['recall_auto_matchable']} "
               f"(of {e['automatic']['cases_auto_matchable']})"),
    ("wrong report candidates per case", "automatic.gallery_false.per_case"),
    ("wrong report candidates: total / East Asian pairs / in band likely",
     lambda e: _false_cell(e["automatic"]["gallery_false"])),
    ("same-person earlier arrivals proposed (recall)",
     lambda e: f"{e['automatic']['arrival_pairs']['proposed_right']} of "
               f"{e['automatic']['arrival_pairs']['same_person_pairs']} ({e['automatic']['arrival_pairs']['recall']})"),
    ("wrong earlier-arrival pairs: total / East Asian",
     lambda e: f"{e['automatic']['arrival_pairs']['false_total']} / {e['automatic']['arrival_pairs']['false_east_asian']}"),
    ("staff pick the largest face: photos chosen (reports / cases)",
     lambda e: f"{e['staff_choice']['photos_chosen']['report_photos']} / {e['staff_choice']['photos_chosen']['case_photos']}"),
    ("**rank-1 with staff choice** (all cases)", "staff_choice.rank1"),
    ("recall with staff choice (all cases)", "staff_choice.recall"),
    ("wrong report candidates per case, with staff choice", "staff_choice.gallery_false.per_case"),
    ("wrong report candidates with staff choice: total / East Asian / likely",
     lambda e: _false_cell(e["staff_choice"]["gallery_false"])),
    ("process_photo ms median, all dev photos", "pipeline_speed.ms_median_all"),
    ("process_photo at 1024 px: ms median → photos/s, one process",
     lambda e: f"{e['pipeline_speed'].get('ms_median')} → {e['pipeline_speed'].get('photos_per_s')}"),
)


def _counts(counter: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items()))


def _false_cell(summary: dict) -> str:
    return f"{summary['total']} / {summary['east_asian']} / {summary['likely_band']}"


def _get(entry: dict, path):
    if callable(path):
        try:
            return path(entry)
        except (KeyError, TypeError):  # an entry carried over from a run before the row existed
            return "–"
    value = entry
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "–" if value is None else value


def _accuracy_table(acc: dict) -> list[str]:
    engines = list(acc)
    lines = [
        "## Dev set through the services (in-process)",
        "",
        "Photo 1 of each identity is a missing-person report, every other photo one arrival (one case). "
        "Candidates are what `candidates.match_report` / `match_case` stored; rank-1 is the top-scored gallery "
        "candidate of the case. Only sex is entered (on reports and cases, from bench/operating_point.py), "
        "so the face distance and the sex gate decide.",
        "",
        "| | " + " | ".join(engines) + " |",
        "|---" * (len(engines) + 1) + "|",
    ]
    for label, path in ACCURACY_ROWS:
        lines.append(f"| {label} | " + " | ".join(str(_get(acc[e], path)) for e in engines) + " |")
    for name, entry in acc.items():
        lines += ["", f"### {name}: closest wrong report candidates (automatic)", ""]
        lines += [f"- {x['case']} → report of {x['other']}: distance {x['distance']} ({x['band']})"
                  for x in entry["automatic"]["gallery_false"]["examples"]] or ["- none"]
        lines += ["", f"### {name}: cases without their report first (automatic, first {EXAMPLES})", ""]
        lines += [f"- {m['photo']}: {m['why']}" + (f" (top: {m['top']} at {m['top_distance']})" if m["top"] else "")
                  for m in entry["automatic"]["misses"]] or ["- none"]
    lines.append("")
    return lines


def _stack_table(stk: dict) -> list[str]:
    lines = [
        "## Upload → candidates through gunicorn and the workers",
        "",
        "Arrivals are POSTed one at a time to `/api/v1/cases` (the largest dev photos, so full-size uploads); "
        "the clock stops when `GET /api/v1/cases/{id}` says `matching_status: done` and the candidates are "
        "read. The first arrival also loads the gallery index in the search worker (cold).",
        "",
        "| engine | gallery faces | arrivals (outcomes) | cold first arrival | index load | warm p50 | warm p95 | warm max "
        "| process p50 | match p50 / p95 | right report first | wrong report candidates per arrival (synthetic) "
        "| search worker RSS (child) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in stk.items():
        w = s["warm"]
        rss = s["search_worker_rss"]
        lines.append(
            f"| {name} | {s['gallery']['indexed_faces'] or s['gallery']['faces']:,} | {s['arrivals']} ({_counts(s['outcomes'])}) "
            f"| {_s(s['cold_first_arrival_ms'])} | {_s(s['cold_index_load_ms'])} | {_s(w['p50_ms'])} | {_s(w['p95_ms'])} "
            f"| {_s(w['max_ms'])} | {w['process_ms_p50']} ms | {w['match_ms_p50']} / {w['match_ms_p95']} ms "
            f"| {s['right_report_first']} | {s['wrong_report_candidates_per_arrival']} ({s['wrong_synthetic_per_arrival']}) "
            f"| {rss['child_mb_before']} → {rss['child_mb']} MB |"
        )
    lines += [
        "",
        "Process / match: the workers' own `event=photo_processed` and `event=match_case` times; the rest of the "
        "latency is the upload, queueing and the bench's 50 ms polling. Wrong report candidates: gallery candidates "
        "other than the arrival's own report; (synthetic) those of the pre-filled strangers, whose embeddings are "
        "random, not faces, so they say little about real false matches at that gallery size.",
        "",
    ]
    return lines


def _s(ms) -> str:
    return "–" if ms is None else f"{ms / 1000:.2f} s"


# -- main


def _keep_other_results(report: dict, path: Path) -> None:
    """Carry over what this run did not measure from an earlier e2e.json, marked `from_run`."""
    if not path.exists():
        return
    earlier = json.loads(path.read_text())
    for part in ("accuracy", "stack"):
        for engine, entry in (earlier.get(part) or {}).items():
            if engine not in report[part]:
                report[part][engine] = {**entry, "from_run": entry.get("from_run") or earlier.get("finished_at")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sface,dlib")
    parser.add_argument("--faces", type=Path, default=DEFAULT_FACES)
    parser.add_argument("--identities", type=int, default=0, help="use only the first N identities (0: all)")
    parser.add_argument("--gallery", type=int, default=100_000, help="synthetic faces pre-filled for the stack part")
    parser.add_argument("--arrivals", type=int, default=30)
    parser.add_argument("--search-shards", type=int, default=1, help="gallery shards (HUIJIA_SEARCH_SHARDS) for the stack")
    parser.add_argument("--bystander-every", type=int, default=8,
                        help="paste a smaller face of another identity into every Nth arrival photo (0: none)")
    parser.add_argument("--strangers", type=int, default=0,
                        help="also file this many strangers from ../shared/faces-distractors as reports (open set)")
    parser.add_argument("--distractors", type=Path, default=DEFAULT_FACES.parent / "faces-distractors")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-stack", action="store_true")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--keep-other-results", action="store_true",
                        help="keep the parts of an existing <out>/e2e.json this run does not redo (other engines, "
                             "the stack part with --skip-stack), each marked with the run it comes from")
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if not (args.faces / "manifest.csv").exists():
        print(f"dev set not found at {args.faces} (set HUIJIA_FACES)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    people = dev_identities(args.faces, args.identities or None)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    report = {"argv": argv if argv is not None else sys.argv[1:], "faces_dir": str(args.faces),
              "accuracy": {}, "stack": {}}
    password = secrets.token_urlsafe(16)
    url = create_database(args.admin_url, DB_NAME)
    try:
        with tempfile.TemporaryDirectory(prefix="huijia-bench-") as tmp:
            instance = Path(tmp)
            env = bench_env(url, args.redis_url, instance, engines[0])
            if args.search_shards > 1:
                env["HUIJIA_SEARCH_SHARDS"] = str(args.search_shards)
            app = make_app(env)
            base_settings = app.config["HUIJIA"]
            for name in engines:
                settings = dataclasses.replace(base_settings, face_engine=name)
                if not args.skip_accuracy:
                    report["accuracy"][name] = accuracy(app, settings, people, password, args.bystander_every,
                                                        stranger_files(args.distractors, args.strangers))
                if not args.skip_stack:
                    report["stack"][name] = stack(app, settings, env, people, password, args.gallery, args.arrivals,
                                                  args.out / "logs" / f"stack_{name}")
            with app.app_context():
                from service.extensions import db

                db.session.remove()
                db.engine.dispose()
    finally:
        flush_redis(args.redis_url)
        if not args.keep_db:
            drop_database(args.admin_url, DB_NAME)
    report["finished_at"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    report["runtime_s"] = round(time.perf_counter() - started, 1)
    if args.keep_other_results:
        _keep_other_results(report, args.out / "e2e.json")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "e2e.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    (args.out / "e2e.md").write_text(markdown(report))
    log.info("event=e2e_done runtime_s=%s out=%s", report["runtime_s"], args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
