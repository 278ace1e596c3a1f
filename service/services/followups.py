"""After going home: scheduled follow-up calls with outcomes, and the alert when someone sent home is back."""
from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import func, select

from ..domain import followups as rules
from ..domain.errors import Conflict, NotFound
from ..domain.identity import mask_ids_in
from ..domain.lifecycle import counts_as_returned
from ..extensions import db
from ..models import Case, CaseEvent, FollowUp, ReArrivalAlert, User
from ..models.types import utcnow
from . import audit

log = logging.getLogger(__name__)
BEIJING_OFFSET_HOURS = 8


def local_date(moment) -> date:
    from datetime import timedelta, timezone

    return moment.astimezone(timezone(timedelta(hours=BEIJING_OFFSET_HOURS))).date()


def schedule_after_exit(case: Case) -> list[FollowUp]:
    """Follow-ups of a return home (idempotent: one row per step); nothing for other exits."""
    if not counts_as_returned(case.exit_type) or case.closed_at is None:
        return []
    existing = {f.step for f in db.session.scalars(select(FollowUp).where(FollowUp.case_id == case.id))}
    made = []
    for step, due_on in rules.schedule(local_date(case.closed_at)):
        if step not in existing:
            row = FollowUp(case_id=case.id, station_id=case.station_id, step=step, due_on=due_on)
            db.session.add(row)
            made.append(row)
    return made


def _visible(actor: User):
    query = select(FollowUp)
    if actor.role != "admin":
        query = query.where(FollowUp.station_id == actor.station_id)
    return query


def worklist(actor: User, today: date | None = None, include_scheduled: bool = False) -> list[tuple[FollowUp, str]]:
    """Follow-ups to do, the most overdue first (with `scheduled` ones when asked)."""
    today = today or local_date(utcnow())
    rows = db.session.scalars(_visible(actor).where(FollowUp.outcome.is_(None)).order_by(FollowUp.due_on, FollowUp.id)).all()
    out = [(r, rules.state(r.due_on, r.outcome, today)) for r in rows]
    return [(r, s) for r, s in out if include_scheduled or s in ("due", "overdue")]


def of_case(case_id: int) -> list[FollowUp]:
    return db.session.scalars(select(FollowUp).where(FollowUp.case_id == case_id).order_by(FollowUp.due_on)).all()


def record_outcome(actor: User, follow_up_id: int, outcome: str | None, note: str | None, ip: str | None = None) -> FollowUp:
    row = db.session.scalar(_visible(actor).where(FollowUp.id == follow_up_id))
    if row is None:
        raise NotFound(f"follow-up {follow_up_id} not found")
    if row.outcome is not None:
        raise Conflict(f"follow-up {row.id} was already recorded", "outcome")
    row.outcome = rules.check_outcome(outcome, note)
    row.note = mask_ids_in((note or "").strip()[:2000]) or None
    row.done_at, row.done_by_id = utcnow(), actor.id
    case = db.session.get(Case, row.case_id)
    case.events.append(CaseEvent(kind="follow_up", user_id=actor.id, data={"step": row.step, "outcome": row.outcome}))
    audit.record(actor.id, "case.follow_up", "case", row.case_id, {"step": row.step, "outcome": row.outcome}, ip)
    db.session.commit()
    return row


# ---------------------------------------------------------------- back on the street


def alert_if_returned(case: Case, previous: Case | None) -> ReArrivalAlert | None:
    """A confirmed earlier stay that ended with a return home: alert the supervisors (once per pair)."""
    if previous is None or not counts_as_returned(previous.exit_type) or previous.closed_at is None:
        return None
    if previous.closed_at > case.arrived_at:
        return None  # the earlier stay ended after this one began: not a return to the street
    existing = db.session.scalar(select(ReArrivalAlert).where(ReArrivalAlert.case_id == case.id,
                                                              ReArrivalAlert.previous_case_id == previous.id))
    if existing is not None:
        return existing
    alert = ReArrivalAlert(case_id=case.id, previous_case_id=previous.id, station_id=case.station_id,
                           previous_station_id=previous.station_id, returned_on=local_date(previous.closed_at),
                           exit_type=previous.exit_type)
    db.session.add(alert)
    case.events.append(CaseEvent(kind="re_arrival", data={"previous_case_id": previous.id,
                                                          "returned_on": alert.returned_on.isoformat()}))
    log.info("event=re_arrival case_id=%s previous_case_id=%s", case.id, previous.id)
    return alert


def _visible_alerts(actor: User):
    query = select(ReArrivalAlert)
    if actor.role != "admin":
        query = query.where((ReArrivalAlert.station_id == actor.station_id)
                            | (ReArrivalAlert.previous_station_id == actor.station_id))
    return query


def open_re_arrivals(actor: User) -> list[ReArrivalAlert]:
    return db.session.scalars(_visible_alerts(actor).where(ReArrivalAlert.acknowledged_at.is_(None))
                              .order_by(ReArrivalAlert.created_at.desc())).all()


def acknowledge(actor: User, alert_id: int, ip: str | None = None) -> ReArrivalAlert:
    alert = db.session.scalar(_visible_alerts(actor).where(ReArrivalAlert.id == alert_id))
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by_id = utcnow(), actor.id
        audit.record(actor.id, "alert.re_arrival_ack", "case", alert.case_id, None, ip)
    db.session.commit()
    return alert


def re_arrival_count(station_id: int | None, start, end) -> int:
    """Re-arrivals of people sent home, alerted in [start, end) (the dashboard's count)."""
    query = select(func.count(ReArrivalAlert.id)).where(ReArrivalAlert.created_at >= start, ReArrivalAlert.created_at < end)
    if station_id is not None:
        query = query.where(ReArrivalAlert.station_id == station_id)
    return db.session.scalar(query) or 0
