"""Face matching: every case against open reports and other arrivals, every new report against cases.

Runs in the `search` queue's worker, which holds the gallery index in memory (one process, so the
index is not copied per prefork child). The database stays the record: the index is a cache
refreshed by face id watermark, and every hit is checked against the database before it is proposed.
Rejected pairs are never proposed again: one CandidateMatch row per pair, and a decided row is
never touched by a re-run.
"""
from __future__ import annotations

import logging
import threading
import time
from sqlalchemy import select

from ..extensions import db
from ..models import CandidateMatch, Case, Face, GalleryReport, Photo, SearchChannel
from ..models.types import utcnow
from .. import tasking
from . import evidence, scatter
from .scoring import Best, rescore
from .faces import owner_of

log = logging.getLogger(__name__)

# Owners whose faces are searched for: a street lead's face is a probe only, never a gallery entry.
INDEXED_KINDS = ("case", "report")
TOP_K = 50  # hits per probe face; fusion and gates decide which become candidates
CLOSED_CASE_STATES = ("returned", "deceased")

_caches: dict = {}
_caches_lock = threading.Lock()
# Gallery sizes for the open-set cuts change slowly: counted at most every SIZE_TTL_S seconds per process.
SIZE_TTL_S = 300
_sizes: dict = {}


def queue_for_photo(photo: Photo, background: bool = False) -> bool:
    """Match the photo's owner; `background` (after a re-encode) waits behind every arrival's matching."""
    kind, owner_id = owner_of(photo)
    return tasking.enqueue(tasking.MATCH_TASK_OF_KIND[kind], owner_id, background=background)


def _load_rows(engine_version: str):
    from .index import Row
    from .templates import SEALED_COLUMNS, vector_or_empty

    def load(since: int, limit: int):
        rows = db.session.execute(
            select(Face.id, Face.owner_kind, Face.owner_id, *SEALED_COLUMNS)
            .join(Face.template)
            .where(Face.engine == engine_version, Face.selected.is_(True), Face.id > since,
                   Face.owner_kind.in_(INDEXED_KINDS))
            .order_by(Face.id)
            .limit(limit)
        ).all()
        # Decrypted here, in this process's memory only; a refused template comes back empty and the index skips it.
        return [Row(r.id, r.owner_kind, r.owner_id, vector_or_empty(r, engine_version)) for r in rows]

    return load


def index_for(engine):
    """This process's index for the engine, refreshed from the database."""
    from .index import IndexCache

    with _caches_lock:
        cache = _caches.get(engine.version)
        if cache is None:
            cache = IndexCache(engine.version, engine.metric, _load_rows(engine.version))
            _caches[engine.version] = cache
    cache.refresh()
    return cache


def reset_indexes() -> None:
    """Forget every cached index (tests; after an engine change the next search rebuilds)."""
    with _caches_lock:
        _caches.clear()
        _sizes.clear()


def gallery_size(kind: str, sex: str | None) -> int:
    """How many entries a probe of this sex can be proposed: open reports (`report`) or cases still searched
    for (`case`) whose sex is the same or unknown. The open-set cuts are set for this many (evidence.open_set_cuts)."""
    from sqlalchemy import func

    key = (kind, sex if sex in ("male", "female") else None)
    now = time.monotonic()
    cached = _sizes.get(key)
    if cached is not None and now - cached[1] < SIZE_TTL_S:
        return cached[0]
    if kind == "report":
        query = select(func.count(GalleryReport.id)).where(GalleryReport.status == "open")
        column = GalleryReport.gender
    else:
        query = select(func.count(Case.id)).where(Case.state.not_in(CLOSED_CASE_STATES))
        column = Case.gender
    if key[1] is not None:
        query = query.where(column.in_((key[1], "unknown")) | column.is_(None))
    size = int(db.session.scalar(query) or 0)
    _sizes[key] = (size, now)
    return size


def _cuts(engine, kind: str, sex: str | None) -> dict:
    return evidence.open_set_cuts(engine, gallery_size(kind, sex))


def rebuild_indexes() -> int:
    with _caches_lock:
        caches = list(_caches.values())
    return sum(c.rebuild() for c in caches)


def _probe_faces(kind: str, owner_id: int, engine_version: str) -> list[Face]:
    return db.session.scalars(
        select(Face).where(
            Face.owner_kind == kind,
            Face.owner_id == owner_id,
            Face.engine == engine_version,
            Face.selected.is_(True),
            Face.template_id.is_not(None),
        )
    ).all()


def _best_per_owner(engine, cache, probes: list[Face], kind_filter, exclude_owner) -> dict[tuple[str, int], Best]:
    """Each gallery owner the probe faces found, at its open-set distance (scoring.rescore)."""
    from .faces import usable_vectors

    usable = list(usable_vectors(probes))
    found = cache.search_many([v for _, v in usable], TOP_K, kind=kind_filter, exclude_owner=exclude_owner) if usable else []
    hits = [(probe, hit) for (probe, _), row in zip(usable, found) for hit in row]
    # The index is a cache: a face erased (retention) or deselected since it was loaded is skipped here.
    live = set(db.session.scalars(select(Face.id).where(Face.id.in_({h.face_id for _, h in hits}),
                                                        Face.template_id.is_not(None), Face.selected.is_(True)))) if hits else set()
    gone = {h.face_id for _, h in hits} - live
    if gone:
        cache.drop(gone)
    best: dict[tuple[str, int], Best] = {}
    for probe, hit in hits:
        if hit.face_id not in live:
            continue
        key = (hit.kind, hit.owner_id)
        if key not in best or hit.distance < best[key].distance:
            best[key] = Best(float(hit.distance), probe.id, hit.face_id)
    return rescore(engine, best, usable)


def _pair_key(case_id: int, report_id: int | None = None, other_case_id: int | None = None) -> str:
    if report_id is not None:
        return f"g:{case_id}:{report_id}"
    low, high = sorted((case_id, other_case_id))
    return f"a:{low}:{high}"


def _upsert(kind: str, case: Case, best: Best, fused, engine_version: str, report=None, other=None) -> str:
    """Insert or improve the pair's candidate; a decided pair is left exactly as people decided."""
    key = _pair_key(case.id, report.id if report else None, other.id if other else None)
    row = db.session.scalar(select(CandidateMatch).where(CandidateMatch.pair_key == key).with_for_update().execution_options(populate_existing=True))
    evidence = {"reasons": list(fused.reasons), "agreement": [a.as_dict() for a in fused.agreement]}
    if best.raw_distance is not None:  # the face pair's own distance, beside the normalised one that set the band
        evidence["raw_face_distance"] = round(best.raw_distance, 4)
    if row is None:
        if fused.band is None:
            return "below_cut"
        # For earlier arrivals the older case is `other`, so the newer one shows the link.
        newer, older = (case, other) if other is None or case.arrived_at >= other.arrived_at else (other, case)
        probe, target = (best.probe_face_id, best.other_face_id) if newer is case else (best.other_face_id, best.probe_face_id)
        db.session.add(
            CandidateMatch(
                pair_key=key, kind=kind, case_id=newer.id, report_id=report.id if report else None,
                other_case_id=older.id if other is not None else None, engine=engine_version,
                face_distance=best.distance, case_face_id=probe, other_face_id=target,
                score=fused.score, band=fused.band, evidence=evidence, status="pending", face_score=fused.score,
            )
        )
        return "new"
    if row.status != "pending":
        return "decided"
    if fused.band is not None and (row.face_distance is None or best.distance < row.face_distance
                                   or row.engine != engine_version):
        row.face_distance, row.score, row.band, row.evidence, row.engine = (
            best.distance, fused.score, fused.band, evidence, engine_version
        )
        if row.kind != "description":  # review shows the two faces this distance is of (a re-encode's new rows)
            faces = (best.probe_face_id, best.other_face_id)
            row.case_face_id, row.other_face_id = faces if row.case_id == case.id else faces[::-1]
        from ..services.clues import merge_face  # the interview clues may have proposed this pair first

        merge_face(row, kind, fused, best.probe_face_id, best.other_face_id)
        return "improved"
    return "unchanged"


def mark_face_channel(case: Case) -> None:
    """The face channel shows `lead` while a candidate waits for people, `in_progress` when none does."""
    pending = db.session.scalar(
        select(CandidateMatch.id).where(CandidateMatch.status == "pending", CandidateMatch.kind != "description",
                                        (CandidateMatch.case_id == case.id) | (CandidateMatch.other_case_id == case.id)).limit(1)
    )
    channel = db.session.scalar(select(SearchChannel).where(SearchChannel.case_id == case.id, SearchChannel.channel == "face"))
    if channel is not None and channel.status not in ("confirmed", "not_applicable"):
        channel.status = "lead" if pending else "in_progress"


def _log_face_run(case: Case, engine_version: str, new: int) -> None:
    """The face channel's first run is a step the deadline rules look for (face_run within 24 h)."""
    from ..models import ChannelEvent

    channel = db.session.scalar(select(SearchChannel).where(SearchChannel.case_id == case.id, SearchChannel.channel == "face"))
    if channel is None:
        return
    ran = db.session.scalar(select(ChannelEvent.id).where(ChannelEvent.channel_id == channel.id,
                                                          ChannelEvent.fields["kind"].as_string() == "run").limit(1))
    if ran is None:
        db.session.add(ChannelEvent(channel_id=channel.id, status=channel.status if channel.status != "not_started" else "in_progress",
                                    fields={"kind": "run", "engine": engine_version, "candidates": new}))


def _photos_pending(case_id=None, report_id=None) -> bool:
    column = Photo.case_id if case_id is not None else Photo.report_id
    owner = case_id if case_id is not None else report_id
    return db.session.scalar(select(Photo.id).where(column == owner, Photo.status == "pending").limit(1)) is not None


def _start(model, kind: str, owner_id: int, settings, now):
    """A matching run's start time, owner row (None when gone), engine, chosen probe faces and clock."""
    from .faces import engine_for

    started = time.monotonic()
    owner = db.session.get(model, owner_id)
    if owner is None:
        return started, None, None, [], now
    engine = engine_for(settings)
    return started, owner, engine, _probe_faces(kind, owner_id, engine.version), now or utcnow()


def match_case(case_id: int, settings, now=None) -> dict:
    """Compare a case's chosen faces with open reports and every other arrival."""
    started, case, engine, probes, now = _start(Case, "case", case_id, settings, now)
    if case is None:
        return {"case_id": case_id, "result": "missing"}
    cache, outcomes = None, {}
    if probes:
        from .faces import usable_vectors
        from .index import Row

        cache = scatter.gallery_for(engine, settings)
        # Reverse matching (a later report) searches the index for this case: its faces may be older than the
        # watermark (handed over from a street lead, chosen by staff), so they are put in if missing.
        cache.add_missing([Row(p.id, "case", case_id, v) for p, v in usable_vectors(probes)])
        best = _best_per_owner(engine, cache, probes, None, ("case", case_id))
        report_ids = [oid for (kind, oid) in best if kind == "report"]
        case_ids = [oid for (kind, oid) in best if kind == "case"]
        reports = {r.id: r for r in db.session.scalars(
            select(GalleryReport).where(GalleryReport.id.in_(report_ids), GalleryReport.status == "open"))} if report_ids else {}
        others = {c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_(case_ids)))} if case_ids else {}
        case_attrs = evidence.of_case(case)
        report_cuts, case_cuts = _cuts(engine, "report", case.gender), _cuts(engine, "case", case.gender)
        for (kind, owner_id), hit in sorted(best.items(), key=lambda kv: kv[1].distance):
            if kind == "report" and owner_id in reports:
                report = reports[owner_id]
                fused = evidence.fuse_report(engine, hit.distance, case_attrs, evidence.of_report(report), now, report_cuts)
                result = _upsert("gallery", case, hit, fused, engine.version, report=report)
            elif kind == "case" and owner_id in others:
                other = others[owner_id]
                fused = evidence.fuse_arrival(engine, hit.distance, case_attrs, evidence.of_case(other), case, other, case_cuts)
                result = _upsert("previous_arrival", case, hit, fused, engine.version, other=other)
            else:
                result = "owner_closed"
            outcomes[result] = outcomes.get(result, 0) + 1
    complete = scatter.settle("case", case_id, cache, engine.version, settings, now)
    if not _photos_pending(case_id=case_id):
        case.matching_status = "done" if complete else "incomplete"
    if probes:
        _log_face_run(case, engine.version, outcomes.get("new", 0))
    mark_face_channel(case)
    db.session.commit()
    log.info("event=match_case case_id=%s probes=%d outcomes=%s ms=%d", case_id, len(probes), outcomes,
             (time.monotonic() - started) * 1000)
    return {"case_id": case_id, "probes": len(probes), **outcomes}


def match_report(report_id: int, settings, now=None) -> dict:
    """Reverse matching: a new report against every case still searched for (long stays included)."""
    started, report, engine, probes, now = _start(GalleryReport, "report", report_id, settings, now)
    if report is None:
        return {"report_id": report_id, "result": "missing"}
    outcomes: dict[str, int] = {}
    cache = scatter.gallery_for(engine, settings) if probes and report.status == "open" else None
    if cache is not None:
        best = _best_per_owner(engine, cache, probes, "case", None)
        case_ids = [oid for (_kind, oid) in best]
        cases = {c.id: c for c in db.session.scalars(
            select(Case).where(Case.id.in_(case_ids), Case.state.not_in(CLOSED_CASE_STATES),
                               Case.identity_status != "confirmed"))} if case_ids else {}
        report_attrs = evidence.of_report(report)
        cuts = _cuts(engine, "case", report.gender)
        for (_kind, case_id), hit in sorted(best.items(), key=lambda kv: kv[1].distance):
            case = cases.get(case_id)
            if case is None:
                outcomes["owner_closed"] = outcomes.get("owner_closed", 0) + 1
                continue
            # The probe is the report's face here: swap so case_face_id is the case's face.
            swapped = Best(hit.distance, hit.other_face_id, hit.probe_face_id, hit.raw_distance)
            fused = evidence.fuse_report(engine, hit.distance, evidence.of_case(case), report_attrs, now, cuts)
            result = _upsert("gallery", case, swapped, fused, engine.version, report=report)
            outcomes[result] = outcomes.get(result, 0) + 1
            mark_face_channel(case)
    complete = scatter.settle("report", report_id, cache, engine.version, settings, now)
    if not _photos_pending(report_id=report_id):
        report.matching_status = "done" if complete else "incomplete"
    db.session.commit()
    log.info("event=match_report report_id=%s probes=%d outcomes=%s ms=%d", report_id, len(probes), outcomes,
             (time.monotonic() - started) * 1000)
    return {"report_id": report_id, "probes": len(probes), **outcomes}


def _lead_photos_pending(lead_id: int) -> bool:
    return db.session.scalar(select(Photo.id).where(Photo.lead_id == lead_id, Photo.status == "pending").limit(1)) is not None


def match_lead(lead_id: int, settings, now=None) -> dict:
    """The face check of a street lead: is this person an earlier arrival, or in a missing-person report?

    Staff see every candidate under the `possible` cut (any station; a person who died is left out). The
    reporter learns only `known`, and only for a `likely` face of an open report or of this station's
    arrival: a reporter's account is not a way to look up any face anywhere, and a `possible` face among
    thousands is too often a stranger to tell a volunteer. The search runs without a lock on the lead (the
    first index load can take seconds); the result is written under the lock."""
    from ..models import Lead
    from .faces import engine_for

    started = time.monotonic()
    now = now or utcnow()
    lead = db.session.get(Lead, lead_id)
    if lead is None:
        return {"lead_id": lead_id, "result": "missing"}
    if _lead_photos_pending(lead_id):  # the last photo's own message comes back here when it is done
        db.session.rollback()
        return {"lead_id": lead_id, "result": "photos_pending"}
    station_id = lead.station_id
    engine = engine_for(settings)
    probes = _probe_faces("lead", lead_id, engine.version)
    candidates, known, gallery = [], False, None
    if probes:
        gallery = scatter.gallery_for(engine, settings)
        best = _best_per_owner(engine, gallery, probes, None, None)
        report_ids = [oid for (kind, oid) in best if kind == "report"]
        case_ids = [oid for (kind, oid) in best if kind == "case"]
        reports = {r.id: r for r in db.session.scalars(
            select(GalleryReport).where(GalleryReport.id.in_(report_ids), GalleryReport.status == "open"))} if report_ids else {}
        cases = {c.id: c for c in db.session.scalars(
            select(Case).where(Case.id.in_(case_ids), Case.state != "deceased"))} if case_ids else {}
        entries = gallery_size("report", None) + gallery_size("case", None)
        likely_cut, possible_cut = evidence.open_set_cuts(engine, entries)["adult"]
        for (kind, owner_id), hit in sorted(best.items(), key=lambda kv: kv[1].distance):
            if hit.distance > possible_cut or (kind == "report" and owner_id not in reports) or (kind == "case" and owner_id not in cases):
                continue
            band = "likely" if hit.distance <= likely_cut else "possible"
            known = known or (band == "likely" and (kind == "report" or cases[owner_id].station_id == station_id))
            candidates.append({
                "kind": "gallery" if kind == "report" else "previous_arrival",
                "report_id": owner_id if kind == "report" else None,
                "case_id": owner_id if kind == "case" else None,
                "face_distance": round(hit.distance, 4),
                "band": band,
                "lead_face_id": hit.probe_face_id,
                "other_face_id": hit.other_face_id,
            })
    db.session.rollback()
    lead = db.session.scalar(select(Lead).where(Lead.id == lead_id).with_for_update().execution_options(populate_existing=True))
    lead.face_candidates = candidates[:10]
    lead.face_check = "known" if known else ("not_known" if probes else "no_face")
    lead.face_checked_at = now
    scatter.settle("lead", lead_id, gallery, engine.version, settings, now)
    db.session.commit()
    log.info("event=match_lead lead_id=%s probes=%d candidates=%d known=%s ms=%d", lead_id, len(probes), len(candidates),
             known, (time.monotonic() - started) * 1000)
    return {"lead_id": lead_id, "probes": len(probes), "candidates": len(candidates), "face_check": lead.face_check}


def drop_faces(face_ids) -> None:
    """Forget erased faces in this process's indexes (other processes skip them at search time)."""
    with _caches_lock:
        caches = list(_caches.values())
    for cache in caches:
        cache.drop(face_ids)
