"""Verifying the family before a handover: record the evidence and who checked it; a supervisor approves a minor's."""
from __future__ import annotations

from sqlalchemy import select

from ..domain import handover as rules
from ..domain.errors import Conflict, NotFound
from ..domain.identity import mask_ids_in
from ..extensions import db
from ..models import CaseEvent, HandoverVerification, User
from ..models.types import utcnow
from . import audit
from .cases import get_case


def verifications(case_id: int) -> list[HandoverVerification]:
    return db.session.scalars(select(HandoverVerification).where(HandoverVerification.case_id == case_id)
                              .order_by(HandoverVerification.id)).all()


def as_rule(row: HandoverVerification | None) -> rules.Verification | None:
    if row is None:
        return None
    return rules.Verification(frozenset(row.evidence or ()), row.checked_by_id, row.approved_by_id, row.revoked_at is not None)


def current(case_id: int) -> HandoverVerification | None:
    """The newest verification not withdrawn."""
    live = [v for v in verifications(case_id) if v.revoked_at is None]
    return live[-1] if live else None


def record(actor: User, case_id: int, raw: dict, ip: str | None = None) -> HandoverVerification:
    """Staff record how the family was verified; the checker is the user recording it."""
    case = get_case(actor, case_id)
    if case.state not in ("in_station", "in_hospital", "settled", "transferred"):
        raise Conflict(f"case {case.case_no} has left the station", "state")
    evidence = raw.get("evidence") or []
    if isinstance(evidence, str):
        evidence = [evidence]
    kinds = rules.check_evidence(evidence, minor=case.is_minor)
    details = {k: mask_ids_in(str(raw.get(f"detail_{k}") or "").strip()[:300]) for k in kinds
               if str(raw.get(f"detail_{k}") or "").strip()}
    row = HandoverVerification(
        case_id=case.id, evidence=sorted(kinds), details=details or None, checked_by_id=actor.id,
        family_name=str(raw.get("family_name") or "").strip()[:80] or None,
        relation=str(raw.get("relation") or "").strip()[:40] or None,
        note=mask_ids_in(str(raw.get("note") or "").strip()[:2000]) or None,
    )
    db.session.add(row)
    db.session.flush()
    case.events.append(CaseEvent(kind="family_verified", user_id=actor.id,
                                 data={"verification_id": row.id, "evidence": sorted(kinds)}))
    audit.record(actor.id, "case.family_verify", "case", case.id, {"evidence": sorted(kinds)}, ip)
    db.session.commit()
    return row


def approve(actor: User, case_id: int, verification_id: int, ip: str | None = None) -> HandoverVerification:
    """A supervisor (not the checker) approves a minor's handover to the verified family."""
    case = get_case(actor, case_id)
    row = db.session.get(HandoverVerification, verification_id)
    if row is None or row.case_id != case.id:
        raise NotFound(f"verification {verification_id} not found")
    rules.check_approval(actor.has_role("supervisor"), actor.id, as_rule(row))
    if row.approved_at is None:
        row.approved_by_id, row.approved_at = actor.id, utcnow()
        case.events.append(CaseEvent(kind="handover_approved", user_id=actor.id, data={"verification_id": row.id}))
        audit.record(actor.id, "case.handover_approve", "case", case.id, {"verification_id": row.id}, ip)
    db.session.commit()
    return row


def revoke(actor: User, case_id: int, verification_id: int, note: str | None, ip: str | None = None) -> HandoverVerification:
    case = get_case(actor, case_id)
    row = db.session.get(HandoverVerification, verification_id)
    if row is None or row.case_id != case.id:
        raise NotFound(f"verification {verification_id} not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        case.events.append(CaseEvent(kind="family_verification_withdrawn", user_id=actor.id,
                                     data={"verification_id": row.id, "reason": (note or "").strip()[:300] or None}))
        audit.record(actor.id, "case.family_verify_withdraw", "case", case.id, {"verification_id": row.id}, ip)
    db.session.commit()
    return row


def status(case) -> str | None:
    """None when the family is verified for this person, else why not (for the exit form)."""
    return rules.verified(as_rule(current(case.id)), case.is_minor)
