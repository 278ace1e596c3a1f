"""Read and correct cases, scoped to what the user may see."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, false, func, or_, select

from ..domain.errors import Conflict, InvalidValue, NotFound
from ..domain.lifecycle import OPEN_STATES
from ..extensions import db
from ..models import Case, CaseEvent, User
from ..models.types import utcnow
from . import audit
from ..formats.fields import parse_case_fields
from ..domain.deadlines import CHINA_TZ
from .intake import apply_intake_rules, finish_person

# States a clerk may move an open case between by correcting it; exits have their own flow.
PATCH_STATES = {"in_station": {"in_hospital"}, "in_hospital": {"in_station"}}
MAX_PER_PAGE = 200


def visible_cases(actor: User) -> Select:
    """Admins see every station; everyone else sees their own station's cases."""
    query = select(Case)
    if not actor.has_role("staff"):  # reporters send street leads and see nothing else
        return query.where(false())
    if actor.role != "admin":
        query = query.where(Case.station_id == actor.station_id)
    return query


def get_case(actor: User, case_id: int) -> Case:
    case = db.session.scalar(visible_cases(actor).where(Case.id == case_id))
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


@dataclass
class CaseFilter:
    q: str | None = None  # case number or name
    state: str | None = None
    category: str | None = None
    identity_status: str | None = None
    arrived_from: date | None = None
    arrived_to: date | None = None
    minor: bool | None = None


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=CHINA_TZ)


def list_cases(actor: User, flt: CaseFilter, page: int = 1, per_page: int = 50) -> tuple[list[Case], int]:
    if page < 1:
        raise InvalidValue("page must be 1 or more", "page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidValue(f"per_page must be between 1 and {MAX_PER_PAGE}", "per_page")
    query = visible_cases(actor)
    if flt.q:
        term = flt.q.strip()
        like = f"%{term.replace('%', '').replace('_', '')}%"
        query = query.where(or_(Case.case_no.ilike(like), Case.name.ilike(like)))
    if flt.state:
        if flt.state == "open":
            query = query.where(Case.state.in_(OPEN_STATES))
        else:
            query = query.where(Case.state == flt.state)
    if flt.identity_status:
        query = query.where(Case.identity_status == flt.identity_status)
    if flt.minor is not None:
        query = query.where(Case.is_minor.is_(flt.minor))
    if flt.arrived_from:
        query = query.where(Case.arrived_at >= _day_start(flt.arrived_from))
    if flt.arrived_to:
        query = query.where(Case.arrived_at < _day_start(flt.arrived_to + timedelta(days=1)))
    rows = db.session.scalars(query.order_by(Case.arrived_at.desc(), Case.id.desc())).all() if flt.category else None
    if flt.category:
        # JSON containment differs between PostgreSQL and SQLite; categories are few per case.
        matching = [c for c in rows if flt.category in (c.categories or [])]
        total = len(matching)
        return matching[(page - 1) * per_page : page * per_page], total
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = db.session.scalars(
        query.order_by(Case.arrived_at.desc(), Case.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return list(items), total


def update_case(actor: User, case_id: int, raw: dict, ip: str | None = None) -> Case:
    """Correct intake fields or move between station and hospital; closed cases are read-only."""
    case = get_case(actor, case_id)
    if case.state not in OPEN_STATES:
        raise Conflict(f"case {case.case_no} is closed ({case.state}); it can no longer be changed", "state")
    values = parse_case_fields(raw)
    new_state = raw.get("state")
    if new_state is not None and not isinstance(new_state, str):
        raise InvalidValue("state must be a string", "state")
    if new_state is not None and new_state != case.state:
        if new_state not in PATCH_STATES.get(case.state, set()):
            raise Conflict(
                f"cannot change state from {case.state} to {new_state} here; exits use POST /cases/{{id}}/exit",
                "state",
            )
    merged = {f: getattr(case, f) for f in ("id_number", "birth_date", "gender")}
    merged.update({k: v for k, v in values.items() if k in merged})
    apply_intake_rules(merged, utcnow().date())
    values.update({k: v for k, v in merged.items() if k in values or getattr(case, k) != v})
    changed = {}
    for field, value in values.items():
        if field == "categories" and value is None:
            value = []
        if getattr(case, field) != value:
            changed[field] = True
            setattr(case, field, value)
    if new_state is not None and new_state != case.state:
        changed["state"] = True
        case.state = new_state
    if case.gender is None:
        case.gender = "unknown"
    finish_person(case, utcnow().date())
    if case.name and case.identity_status == "unknown":
        case.identity_status = "self_reported"
    if changed:
        # Field names only: the timeline and the audit log never copy personal data.
        case.events.append(CaseEvent(kind="updated", user_id=actor.id, data={"fields": sorted(changed)}))
        audit.record(actor.id, "case.update", "case", case.id, {"fields": sorted(changed)}, ip)
    db.session.commit()  # corrected facts: the clue sweep reads them again (updated_at)
    return case


def days_stranded(case: Case, now: datetime | None = None) -> int:
    end = case.closed_at or now or utcnow()
    return max(0, (end - case.arrived_at).days)
