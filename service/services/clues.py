"""Description candidates: interview clues and case facts against missing-person reports, and back.

Each case and report is read once into a profile (service.domain.clues) stored with its index keys
(ClueKey: fuzzy name readings, relatives, villages, counties, prefectures). Proposing looks up the other
side's keys, scores the few hundred records found, and upserts CandidateMatch rows of kind `description`
on the same pair key as face matches (g:<case>:<report>), so a pair seen by both channels is one row with
the two scores fused. Decided rows are never touched again: a "no" stays a no.

Runs in the background by id (tasking.CLUES_CASE / CLUES_REPORT): queued at once after an interview step, and
after an arrival or report whose photos the broker just took; everything else (arrivals and reports without
photos, corrections, imports, lost messages) is found by the sweep every two minutes, which re-queues records
whose facts or interviews changed since their profile was read. No request waits on a broker that is down
for clues' sake.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import date

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from .. import tasking
from ..domain import clues as rules
from ..domain.lifecycle import SEARCHING
from ..extensions import db
from ..models import CandidateMatch, Case, ChannelEvent, ClueKey, ClueProfile, GalleryReport, SearchChannel
from ..models.types import utcnow

log = logging.getLogger(__name__)

CANDIDATE_LIMIT = 300  # records sharing a name, relative, village or county key, most keys first


# ---------------------------------------------------------------- reading records


def _interview_steps(case_id: int):
    return db.session.scalars(
        select(ChannelEvent).join(SearchChannel, SearchChannel.id == ChannelEvent.channel_id)
        .where(SearchChannel.case_id == case_id, SearchChannel.channel == "interview").order_by(ChannelEvent.id)
    ).all()


def case_clues(case: Case) -> rules.CaseClues:
    names, places, dialects, notes = [], [], [], []
    for step in _interview_steps(case.id):
        fields = step.fields or {}
        names += [str(n) for n in fields.get("clue_names") or ()]
        places += [str(p) for p in fields.get("clue_places") or ()]
        if fields.get("dialect"):
            dialects.append(str(fields["dialect"]))
        notes += [t for t in (fields.get("notes"), step.note) if t]
    arrived = case.arrived_at.date() if case.arrived_at else None
    return rules.CaseClues(
        sex=case.gender or "unknown", name=case.name, relatives_named=case.relatives_named,
        household_place=case.household_place, hometown_hint=case.hometown_hint, dialect=case.dialect, marks=case.marks,
        age_min=case.age_min, age_max=case.age_max, birth_date=case.birth_date, seen_on=arrived,
        found_on=(case.found_at.date() if case.found_at else arrived),
        clue_names=tuple(names), clue_places=tuple(places), clue_dialects=tuple(dialects), notes=tuple(notes),
    )


def report_clues(report: GalleryReport) -> rules.ReportClues:
    extra = report.extra or {}
    relatives = extra.get("relatives") or ()
    if isinstance(relatives, str):
        relatives = rules.names_in(relatives)
    return rules.ReportClues(
        sex=report.gender or "unknown", name=report.name, birth_date=report.birth_date,
        age_at_missing=report.age_at_missing, missing_since=report.missing_since, missing_place=report.missing_place,
        hometown=report.hometown, marks=report.marks, description=report.description, contact_name=report.contact_name,
        relatives=tuple(str(r) for r in relatives),
    )


def _hash(clues) -> str:
    return hashlib.sha256(json.dumps(clues.__dict__, default=str, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def refresh_profile(kind: str, owner_id: int, clues) -> tuple[rules.Profile, bool]:
    """The stored profile, re-read (with its index keys) when what it is read from changed."""
    digest = _hash(clues)
    row = db.session.scalar(select(ClueProfile).where(ClueProfile.owner_kind == kind, ClueProfile.owner_id == owner_id))
    if row is not None and row.source_hash == digest:
        row.built_at = utcnow()
        return rules.Profile.from_json(row.profile), False
    profile = rules.case_profile(clues) if kind == "case" else rules.report_profile(clues)
    if row is None:
        row = ClueProfile(owner_kind=kind, owner_id=owner_id, profile={}, source_hash="")
        db.session.add(row)
    row.profile, row.source_hash, row.built_at = profile.as_json(), digest, utcnow()
    db.session.execute(delete(ClueKey).where(ClueKey.owner_kind == kind, ClueKey.owner_id == owner_id))
    keys = sorted(rules.index_keys(profile))
    if keys:
        db.session.execute(ClueKey.__table__.insert(), [{"owner_kind": kind, "owner_id": owner_id, "key": k} for k in keys])
    return profile, True


# ---------------------------------------------------------------- finding and scoring


def candidate_ids(keys: set[str], other_kind: str) -> list[int]:
    """Records of the other side sharing index keys, those sharing most first."""
    if not keys:
        return []
    return list(db.session.scalars(
        select(ClueKey.owner_id).where(ClueKey.owner_kind == other_kind, ClueKey.key.in_(sorted(keys)))
        .group_by(ClueKey.owner_id).order_by(func.count().desc(), ClueKey.owner_id.desc()).limit(CANDIDATE_LIMIT)))


def _profiles(kind: str, ids: list[int]) -> dict[int, rules.Profile]:
    if not ids:
        return {}
    if kind == "report":
        owner = select(GalleryReport.id).where(GalleryReport.id.in_(ids), GalleryReport.status == "open")
    else:
        owner = select(Case.id).where(Case.id.in_(ids), Case.state.in_(SEARCHING), Case.identity_status != "confirmed")
    rows = db.session.execute(select(ClueProfile.owner_id, ClueProfile.profile).where(
        ClueProfile.owner_kind == kind, ClueProfile.owner_id.in_(owner))).all()
    return {r.owner_id: rules.Profile.from_json(r.profile) for r in rows}


def rank(profile: rules.Profile, others: dict[int, rules.Profile], side: str, on: date | None = None):
    """(other id, Scored) of the pairs that reach a band, best first."""
    scored = []
    for other_id, other in others.items():
        s = rules.score(profile, other, on, quick=True) if side == "case" else rules.score(other, profile, on, quick=True)
        if s.band:
            scored.append((other_id, s))
    scored.sort(key=lambda kv: (kv[1].band != "likely", -kv[1].llr, kv[0]))
    return scored


def propose(profile: rules.Profile, side: str, on: date | None = None):
    """The pairs worth a person's time for a profile, without writing anything (benchmarks use this)."""
    other_kind = "report" if side == "case" else "case"
    ids = candidate_ids(rules.query_keys(profile), other_kind)
    return rank(profile, _profiles(other_kind, ids), side, on)


# ---------------------------------------------------------------- candidates


def _pair_key(case_id: int, report_id: int) -> str:
    return f"g:{case_id}:{report_id}"  # the face matcher's key for the same pair


def upsert(case_id: int, report_id: int, scored: rules.Scored) -> str:
    key = _pair_key(case_id, report_id)
    row = db.session.scalar(select(CandidateMatch).where(CandidateMatch.pair_key == key).with_for_update()
                            .execution_options(populate_existing=True))
    evidence = scored.evidence()
    if row is None:
        db.session.add(CandidateMatch(
            pair_key=key, kind="description", case_id=case_id, report_id=report_id, engine=None, face_distance=None,
            score=scored.score, band=scored.band, evidence=evidence, description_score=scored.score,
            description_band=scored.band, description_evidence=evidence, status="pending"))
        return "new"
    if row.status != "pending":
        return "decided"
    if row.description_evidence == evidence:
        return "unchanged"
    row.description_score, row.description_band, row.description_evidence = scored.score, scored.band, evidence
    if row.kind == "description":
        row.score, row.band, row.evidence = scored.score, scored.band, evidence
    else:  # a face match of the same pair: one row, both channels
        face_score = row.face_score if row.face_score is not None else row.score
        face_band = (row.evidence or {}).get("face_band") or row.band
        row.face_score, row.evidence = face_score, {**(row.evidence or {}), "face_band": face_band}
        row.score, row.band = rules.fuse_with_face(face_score, face_band, scored.score, scored.band)
    return "improved"


def merge_face(row: CandidateMatch, kind: str, fused, case_face_id: int | None, other_face_id: int | None) -> None:
    """The face matcher found a pair the clues had already proposed (or improved one both had): keep both
    channels' scores and fuse them. Called by matching.candidates after it wrote the face's values."""
    row.face_score = fused.score
    if row.description_score is None:
        return
    if row.kind == "description":
        row.kind, row.case_face_id, row.other_face_id = kind, case_face_id, other_face_id
    row.evidence = {**(row.evidence or {}), "face_band": fused.band}
    row.score, row.band = rules.fuse_with_face(fused.score, fused.band, row.description_score, row.description_band)


def _interview_lead(case_id: int) -> None:
    """A pending description candidate is a lead of the interview channel (and no longer one when none is left)."""
    channel = db.session.scalar(select(SearchChannel).where(SearchChannel.case_id == case_id,
                                                            SearchChannel.channel == "interview"))
    if channel is None:
        return
    pending = db.session.scalar(select(CandidateMatch.id).where(
        CandidateMatch.case_id == case_id, CandidateMatch.status == "pending",
        or_(CandidateMatch.kind == "description", CandidateMatch.description_score.is_not(None))).limit(1))
    if pending and channel.status in ("not_started", "in_progress", "no_result"):
        channel.status = "lead"
        db.session.add(ChannelEvent(channel_id=channel.id, status="lead", note="description candidate proposed",
                                    reference=f"candidate:{pending}"))
    elif not pending and channel.status == "lead":
        channel.status = "in_progress"


def after_decision(case_id: int) -> None:
    """Called when a person decided a candidate: the interview channel's lead follows what is left."""
    _interview_lead(case_id)


def _retrying(work):
    """Run `work` in its own transaction; a concurrent run of the same record (the sweep and an explicit
    enqueue, a case's and a report's task on the same pair) that inserted first makes the insert fail:
    roll back and run again, finding its rows this time."""
    for attempt in range(3):
        try:
            return work()
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
            log.info("event=clues_retry attempt=%d", attempt + 1)


def propose_for_case(case_id: int, now=None) -> dict:
    def work():
        started = time.monotonic()
        # One run per record at a time: the record's row is the lock.
        case = db.session.scalar(select(Case).where(Case.id == case_id).with_for_update()
                                 .execution_options(populate_existing=True))
        if case is None:
            db.session.rollback()
            return {"case_id": case_id, "result": "missing"}
        profile, _changed = refresh_profile("case", case.id, case_clues(case))
        outcomes: dict[str, int] = {}
        if case.state in SEARCHING and case.identity_status != "confirmed":
            for report_id, scored in propose(profile, "case")[: rules.PROPOSE_AT_MOST]:
                result = upsert(case.id, report_id, scored)
                outcomes[result] = outcomes.get(result, 0) + 1
            _interview_lead(case.id)
        db.session.commit()
        log.info("event=clues_case case_id=%s outcomes=%s ms=%d", case_id, outcomes, (time.monotonic() - started) * 1000)
        return {"case_id": case_id, **outcomes}

    return _retrying(work)


def propose_for_report(report_id: int, now=None) -> dict:
    def work():
        started = time.monotonic()
        report = db.session.scalar(select(GalleryReport).where(GalleryReport.id == report_id).with_for_update()
                                   .execution_options(populate_existing=True))
        if report is None:
            db.session.rollback()
            return {"report_id": report_id, "result": "missing"}
        profile, _changed = refresh_profile("report", report.id, report_clues(report))
        outcomes: dict[str, int] = {}
        if report.status == "open":
            touched = set()
            for case_id, scored in propose(profile, "report")[: rules.PROPOSE_AT_MOST]:
                result = upsert(case_id, report.id, scored)
                outcomes[result] = outcomes.get(result, 0) + 1
                touched.add(case_id)
            for case_id in sorted(touched):
                _interview_lead(case_id)
        db.session.commit()
        log.info("event=clues_report report_id=%s outcomes=%s ms=%d", report_id, outcomes,
                 (time.monotonic() - started) * 1000)
        return {"report_id": report_id, **outcomes}

    return _retrying(work)


# ---------------------------------------------------------------- queueing


def queue_case(case_id: int) -> bool:
    return tasking.enqueue(tasking.CLUES_CASE, case_id)


def queue_report(report_id: int) -> bool:
    return tasking.enqueue(tasking.CLUES_REPORT, report_id)


def stale(limit: int = 5000) -> tuple[list[int], list[int]]:
    """Cases and reports whose facts or interviews changed since their profile was read (or never read)."""
    case_profile = select(ClueProfile.owner_id, ClueProfile.built_at).where(ClueProfile.owner_kind == "case").subquery()
    last_interview = (select(SearchChannel.case_id, func.max(ChannelEvent.at).label("at"))
                      .join(ChannelEvent, ChannelEvent.channel_id == SearchChannel.id)
                      # steps people logged (a lead this module marks has no user)
                      .where(SearchChannel.channel == "interview", ChannelEvent.user_id.is_not(None))
                      .group_by(SearchChannel.case_id).subquery())
    case_ids = db.session.scalars(
        select(Case.id).outerjoin(case_profile, case_profile.c.owner_id == Case.id)
        .outerjoin(last_interview, last_interview.c.case_id == Case.id)
        .where(Case.state.in_(SEARCHING), Case.identity_status != "confirmed",
               or_(case_profile.c.built_at.is_(None), Case.updated_at > case_profile.c.built_at,
                   last_interview.c.at > case_profile.c.built_at))
        .order_by(Case.id).limit(limit)).all()
    report_profile = select(ClueProfile.owner_id, ClueProfile.built_at).where(ClueProfile.owner_kind == "report").subquery()
    report_ids = db.session.scalars(
        select(GalleryReport.id).outerjoin(report_profile, report_profile.c.owner_id == GalleryReport.id)
        .where(GalleryReport.status == "open",
               or_(report_profile.c.built_at.is_(None), GalleryReport.updated_at > report_profile.c.built_at))
        .order_by(GalleryReport.id).limit(limit)).all()
    return list(case_ids), list(report_ids)


def sweep() -> int:
    """Beat job: queue every record whose clues were not read since they changed."""
    case_ids, report_ids = stale()
    for case_id in case_ids:
        queue_case(case_id)
    for report_id in report_ids:
        queue_report(report_id)
    if case_ids or report_ids:
        log.info("event=clues_sweep cases=%d reports=%d", len(case_ids), len(report_ids))
    return len(case_ids) + len(report_ids)
