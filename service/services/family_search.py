"""The "五加一" family search of one case: channel steps, deadlines, identity, family contacts.

The rules live in service.domain (channels, deadlines, lifecycle); this module reads the case's history
from the database into a CaseSnapshot, applies the rules and records what people did.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..domain import channels as channel_rules
from ..domain import deadlines, lifecycle
from ..domain.errors import Conflict, Forbidden, InvalidValue
from ..extensions import db
from ..formats.fields import CHANNEL_STEP_FIELDS
from ..formats.values import parse_fields
from ..models import Case, CaseEvent, ChannelEvent, FamilyContact, SearchChannel, Station, User
from ..models.types import utcnow
from . import audit
from .cases import visible_cases
from .identification import confirm_identity

# Case-level events that count as steps for the deadline rules (CaseEvent.kind → step key).
CASE_STEP_EVENTS = {
    "identity_confirmed": "identity_confirmed",
    "family_contacted": "family_contacted",
    "return_arranged": "return_arranged",
    "extension_approved": "extension_approved",
    "settlement_review": "settlement_review",
    "notice_approved": "notice_approved",
    "lead": "lead",
}
CONTACT_METHODS = ("phone", "visit", "message", "police", "office")
CONTACT_OUTCOMES = ("reached", "no_answer", "refused", "will_pick_up", "other")


def station_rules(station: Station | None) -> tuple:
    return deadlines.effective_rules((station.rules_overrides if station else None) or None)


def station_calendar(station: Station | None) -> deadlines.WorkCalendar:
    return deadlines.WorkCalendar.from_json(station.calendar) if station and station.calendar else deadlines.WorkCalendar()


def save_station_rules(actor: User, station: Station, overrides_text: str | None, calendar_text: str | None,
                       ip: str | None = None) -> None:
    """An admin's rule overrides and holiday calendar for a station (JSON text), checked whole before saving."""
    overrides = deadlines.load_overrides(overrides_text or "{}")  # refuses unknown codes and bad values
    try:
        calendar = json.loads(calendar_text or "{}")
    except json.JSONDecodeError as exc:
        raise InvalidValue(f"the calendar is not valid JSON: {exc.msg}", "calendar") from exc
    if not isinstance(calendar, dict):
        raise InvalidValue("the calendar must be a JSON object", "calendar")
    deadlines.WorkCalendar.from_json(calendar)
    station.rules_overrides, station.calendar = overrides or None, calendar or None
    audit.record(actor.id, "rules.update", "station", station.id, None, ip)
    db.session.commit()


def snapshot(case: Case) -> deadlines.CaseSnapshot:
    """What the deadline rules need, read from the case's channels and timeline."""
    steps: dict[str, datetime] = {}

    def seen(key: str, at: datetime) -> None:
        if key in deadlines.ANCHORS and (key not in steps or at > steps[key]):
            steps[key] = at

    for channel in case.channels:
        for event in channel.events:
            kind = (event.fields or {}).get("kind")
            if kind:
                seen(channel_rules.step_key(channel.channel, kind), event.at)
            if event.status == "lead":
                seen("lead", event.at)
    for event in case.events:
        if event.kind in CASE_STEP_EVENTS:
            seen(CASE_STEP_EVENTS[event.kind], event.at)
    return deadlines.CaseSnapshot(
        arrived_at=case.arrived_at,
        identity_status=case.identity_status,
        is_minor=case.is_minor,
        state=case.state,
        categories=frozenset(case.categories or ()),
        channels={c.channel: c.status for c in case.channels},
        steps=steps,
    )


def due(case: Case, now: datetime | None = None) -> list:
    station = case.station
    return deadlines.due_steps(snapshot(case), now or utcnow(), station_rules(station), station_calendar(station))


def channels_view(case: Case, now: datetime | None = None) -> list[dict]:
    """Each channel with its status, next due step, overdue flag and history."""
    nearest = deadlines.next_due_by_channel(due(case, now))
    view = []
    for channel in sorted(case.channels, key=lambda c: channel_rules.CHANNELS.index(c.channel)):
        step = nearest.get(channel.channel)
        view.append({"channel": channel, "due": step})
    return view


def overdue_steps(case: Case, now: datetime | None = None) -> list:
    return [s for s in due(case, now) if s.overdue]


def _searching_cases(actor: User, states) -> list[Case]:
    # What the deadline rules read, in four statements instead of about eight per case (N+1: 2,700
    # statements and 1.5 s for 340 cases before; bench/queue_bench.py).
    query = (visible_cases(actor).where(Case.state.in_(states)).order_by(Case.arrived_at, Case.id)
             .options(joinedload(Case.station), selectinload(Case.events),
                      selectinload(Case.channels).selectinload(SearchChannel.events)))
    return list(db.session.scalars(query).unique())


def overdue_queue(actor: User, now: datetime | None = None) -> list[tuple[Case, list]]:
    """Cases still searched for with the steps they are late on, longest stay first."""
    now = now or utcnow()
    rows = []
    for case in _searching_cases(actor, lifecycle.SEARCHING):
        steps = overdue_steps(case, now)
        if steps:
            rows.append((case, steps))
    return rows


def approvals_queue(actor: User) -> dict[str, list[Case]]:
    return approvals(_searching_cases(actor, lifecycle.OPEN_STATES))


def settlement_eligible(case: Case, now: datetime | None = None) -> bool:
    station = case.station
    return deadlines.settlement_eligible(snapshot(case), now or utcnow(), station_rules(station), station_calendar(station))


def _channel(case: Case, name: str) -> SearchChannel:
    row = next((c for c in case.channels if c.channel == name), None)
    if row is None:
        raise InvalidValue(f"unknown channel: {name}", "channel")
    return row


def log_step(actor: User, case: Case, channel: str, status: str | None, fields: dict, note: str | None = None,
             reference: str | None = None, ip: str | None = None) -> ChannelEvent:
    """Record a step on a channel (a post, a push, a DNA result, an interview) and move its status."""
    values = parse_fields(CHANNEL_STEP_FIELDS, {"status": status, "note": note, "reference": reference})
    status, note, reference = values.get("status"), values.get("note"), values.get("reference")
    row = _channel(case, channel)
    if case.state not in lifecycle.SEARCHING:
        raise Conflict(f"case {case.case_no} is closed ({case.state}); its search has ended", "state")
    status = status or row.status
    if status == "not_applicable":
        cleaned = {}
    else:
        cleaned = channel_rules.validate_step(channel, {k: v for k, v in (fields or {}).items() if v not in (None, "")})
        if channel in channel_rules.PUBLIC_CHANNELS and cleaned.get("kind") in ("posted", "pushed", "published"):
            approved = any(e.kind == "notice_approved" for e in case.events)
            channel_rules.check_notice_allowed(channel, case.is_minor, approved)
    new = channel_rules.apply_channel_event(row.status, status, note, actor.role)
    if new == "confirmed" and case.identity_status == "confirmed" and case.identified_by_channel not in (None, channel):
        raise Conflict(f"identity is already confirmed through {case.identified_by_channel}", "status")
    row.status = new
    if new == "not_applicable":
        row.reason = (note or "")[:2000]
    event = ChannelEvent(channel_id=row.id, status=new, note=note, reference=reference, fields=cleaned or None,
                         user_id=actor.id)
    db.session.add(event)
    if new == "confirmed":
        confirm_identity(actor, case, channel)
    case.events.append(CaseEvent(kind="channel_step", user_id=actor.id,
                                 data={"channel": channel, "status": new, "kind": cleaned.get("kind")}))
    audit.record(actor.id, "channel.step", "case", case.id, {"channel": channel, "status": new}, ip)
    db.session.commit()
    if channel == "interview":  # new clues: look for description candidates
        from .clues import queue_case

        queue_case(case.id)
    return event


def record_case_step(actor: User, case: Case, kind: str, data: dict | None = None, ip: str | None = None) -> CaseEvent:
    """A case-level duty done: extension approved, settlement review, return arranged, notice approved."""
    needs_supervisor = {"extension_approved", "settlement_review", "notice_approved"}
    if kind not in CASE_STEP_EVENTS or kind in ("identity_confirmed", "family_contacted", "lead"):
        raise InvalidValue(f"unknown case step: {kind}", "kind")
    if kind in needs_supervisor and not actor.has_role("supervisor"):
        raise Forbidden(f"{kind.replace('_', ' ')} needs a supervisor")
    event = CaseEvent(kind=kind, user_id=actor.id, data=data or None)
    case.events.append(event)
    audit.record(actor.id, f"case.{kind}", "case", case.id, None, ip)
    db.session.commit()
    return event


def add_family_contact(actor: User, case: Case, raw: dict, ip: str | None = None) -> FamilyContact:
    for field in ("method", "outcome"):
        if raw.get(field) is not None and not isinstance(raw[field], str):
            raise InvalidValue(f"{field} must be a string", field)
    method = (raw.get("method") or "phone").strip()
    if method not in CONTACT_METHODS:
        raise InvalidValue(f"method must be one of: {', '.join(CONTACT_METHODS)}", "method")
    outcome = (raw.get("outcome") or "").strip() or None
    if outcome and outcome not in CONTACT_OUTCOMES:
        raise InvalidValue(f"outcome must be one of: {', '.join(CONTACT_OUTCOMES)}", "outcome")
    values = {}
    for field, limit in (("contact_name", 80), ("relation", 40), ("phone", 40), ("note", 4000)):
        value = str(raw.get(field) or "").strip()
        if len(value) > limit:
            raise InvalidValue(f"at most {limit} characters", field)
        values[field] = value or None
    contact = FamilyContact(case_id=case.id, method=method, outcome=outcome, user_id=actor.id, **values)
    db.session.add(contact)
    if outcome in ("reached", "will_pick_up"):
        case.events.append(CaseEvent(kind="family_contacted", user_id=actor.id, data={"method": method}))
    audit.record(actor.id, "case.family_contact", "case", case.id, {"method": method, "outcome": outcome}, ip)
    db.session.commit()
    return contact


def family_contacts(case: Case) -> list[FamilyContact]:
    return db.session.scalars(select(FamilyContact).where(FamilyContact.case_id == case.id).order_by(FamilyContact.at)).all()


def approvals(cases) -> dict[str, list[Case]]:
    """Long stays: extensions waiting for a supervisor, and cases eligible for settlement review."""
    now = utcnow()
    out: dict[str, list[Case]] = {"extension": [], "settlement": []}
    for case in cases:
        snap, station = snapshot(case), case.station
        rules_, cal = station_rules(station), station_calendar(station)
        if deadlines.extension_required(snap, now, rules_, cal):
            out["extension"].append(case)
        if deadlines.settlement_eligible(snap, now, rules_, cal) and "settlement_review" not in snap.steps:
            out["settlement"].append(case)
    return out
