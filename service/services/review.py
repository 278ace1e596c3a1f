"""People decide on candidate matches: confirm links identities, reject buries the pair for good."""
from __future__ import annotations

from sqlalchemy import or_, select

from ..domain.errors import Conflict, Forbidden, InvalidValue, NotFound
from ..extensions import db
from ..formats.fields import REVIEW_FIELDS
from ..formats.values import parse_fields
from ..models import CandidateMatch, Case, CaseEvent, ChannelEvent, GalleryReport, SearchChannel, User
from ..models.types import utcnow
from ..matching.candidates import mark_face_channel
from . import audit
from .identification import confirm_identity


def visible_candidates(actor: User):
    query = select(CandidateMatch)
    if actor.role != "admin":
        query = query.join(Case, Case.id == CandidateMatch.case_id).where(Case.station_id == actor.station_id)
    return query


def get_candidate(actor: User, candidate_id: int) -> CandidateMatch:
    row = db.session.scalar(visible_candidates(actor).where(CandidateMatch.id == candidate_id))
    if row is None:
        raise NotFound(f"candidate {candidate_id} not found")
    return row


def pending_queue(actor: User, page: int = 1, per_page: int = 50):
    query = visible_candidates(actor).where(CandidateMatch.status == "pending")
    rows = db.session.scalars(
        query.order_by(CandidateMatch.band.desc(), CandidateMatch.score.desc(), CandidateMatch.id)
        .offset((page - 1) * per_page).limit(per_page)
    ).all()
    from sqlalchemy import func

    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    return list(rows), total


def candidates_of_case(actor: User, case: Case) -> list[CandidateMatch]:
    return db.session.scalars(
        select(CandidateMatch)
        .where(or_(CandidateMatch.case_id == case.id, CandidateMatch.other_case_id == case.id))
        .order_by(CandidateMatch.score.desc())
    ).all()


def candidates_of_report(report: GalleryReport) -> list[CandidateMatch]:
    return db.session.scalars(
        select(CandidateMatch).where(CandidateMatch.report_id == report.id).order_by(CandidateMatch.score.desc())
    ).all()


def _channel(case_id: int, name: str) -> SearchChannel | None:
    return db.session.scalar(select(SearchChannel).where(SearchChannel.case_id == case_id, SearchChannel.channel == name))


def _log_face_channel(case: Case, status: str, note: str, actor: User, reference: str, name: str = "face") -> None:
    channel = _channel(case.id, name)
    if channel is None:
        return
    channel.status = status
    db.session.add(ChannelEvent(channel_id=channel.id, status=status, note=note, reference=reference, user_id=actor.id))


def decide(actor: User, candidate_id: int, decision: str, note: str | None, ip: str | None = None) -> CandidateMatch:
    """Confirm or reject a pending candidate, with the timeline, channel and audit rows."""
    values = parse_fields(REVIEW_FIELDS, {"decision": decision, "note": note})
    decision, note = values.get("decision"), values.get("note")
    if decision is None:
        raise InvalidValue("decision must be confirm or reject", "decision")
    row = get_candidate(actor, candidate_id)
    row = db.session.scalar(select(CandidateMatch).where(CandidateMatch.id == row.id).with_for_update().execution_options(populate_existing=True))
    if row.status != "pending":
        raise Conflict(f"candidate {row.id} was already {row.status}", "decision")
    case = row.case
    now = utcnow()
    row.status = "confirmed" if decision == "confirm" else "rejected"
    row.note, row.decided_by_id, row.decided_at = note, actor.id, now
    ref = f"candidate:{row.id}"
    # A description candidate came from the interviews: that channel decided (a fused pair stays face's).
    channel = "interview" if row.kind == "description" else "face"
    if decision == "confirm":
        if row.kind in ("gallery", "description"):
            report = row.report
            if report.status != "open":
                raise Conflict(f"report {report.id} is already {report.status}", "decision")
            if case.identity_status == "confirmed" and case.identified_by_report_id not in (None, report.id):
                raise Conflict("this case is already identified by another report; undo that link first", "decision")
            report.status, report.found_case_id = "found", case.id
            case.identified_by_report_id = report.id
            _log_face_channel(case, "confirmed", note or f"{channel} match confirmed", actor, ref, channel)
            # Already identified (an interview, DNA): the date and the decisive channel stay as they were.
            confirm_identity(actor, case, channel, {"candidate_id": row.id, "report_id": report.id}, now)
        else:
            case.previous_case_id = row.other_case_id
            case.events.append(CaseEvent(kind="repeat_arrival_confirmed", user_id=actor.id,
                                         data={"candidate_id": row.id, "previous_case_id": row.other_case_id}))
            from .followups import alert_if_returned

            alert_if_returned(case, row.other_case)  # sent home before, back on the street
    else:
        case.events.append(CaseEvent(kind="candidate_rejected", user_id=actor.id, data={"candidate_id": row.id}))
        db.session.flush()
        mark_face_channel(case)
    if row.kind == "description" or row.description_score is not None:
        from .clues import after_decision

        db.session.flush()
        after_decision(case.id)
    audit.record(actor.id, f"candidate.{decision}", "candidate", row.id, {"case_id": case.id}, ip)
    db.session.commit()
    return row


def undo(actor: User, candidate_id: int, note: str | None, ip: str | None = None) -> CandidateMatch:
    """A supervisor undoes a confirmed link: the pair becomes rejected, identities go back."""
    if not actor.has_role("supervisor"):
        raise Forbidden("only a supervisor can undo a confirmed link")
    row = get_candidate(actor, candidate_id)
    if row.status != "confirmed":
        raise Conflict(f"candidate {row.id} is {row.status}, not confirmed", "decision")
    case = row.case
    if row.kind in ("gallery", "description"):
        channel = "interview" if row.kind == "description" else "face"
        report = row.report
        if report.found_case_id == case.id:
            report.status, report.found_case_id = "open", None
        if case.identified_by_report_id == report.id:
            case.identified_by_report_id = None
            # Only an identity the face match decided goes back; one confirmed by another channel stands.
            if case.identified_by_channel in (None, channel):
                case.identity_status = "self_reported" if case.name else "unknown"
                case.identified_at, case.identified_by_channel = None, None
            _log_face_channel(case, "in_progress", f"link undone: {note or ''}".strip(), actor, f"candidate:{row.id}",
                              channel)
    elif case.previous_case_id == row.other_case_id:
        case.previous_case_id = None
    row.status, row.note = "rejected", f"undone by supervisor: {note or ''}".strip()
    row.decided_by_id, row.decided_at = actor.id, utcnow()
    case.events.append(CaseEvent(kind="link_undone", user_id=actor.id, data={"candidate_id": row.id}))
    audit.record(actor.id, "candidate.undo", "candidate", row.id, {"case_id": case.id, "note": bool(note)}, ip)
    db.session.commit()
    return row
