"""Supervisor work queues: stranded cases, identified but not yet home (the KPI gap), minors.

Pure query functions: an actor (whose station scopes what is seen), a QueueFilter and a clock in,
rows out. Pages, the API and the exports share them.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..domain import deadlines
from ..domain.errors import Forbidden, InvalidValue
from ..domain.intake import CATEGORIES, MAX_AGE, age_bounds
from ..domain.lifecycle import OPEN_STATES, SEARCH_OPEN_STATES, SELF_EXIT_AGE, counts_as_returned
from ..extensions import db
from ..models import Case, SearchChannel, Station, User
from ..models.types import utcnow
from . import family_search
from .cases import days_stranded, visible_cases

QUEUES = ("stranded", "identified", "minors")
MAX_DAYS = 100_000


@dataclass(frozen=True)
class QueueFilter:
    """What a supervisor narrows a queue to; None means "any"."""

    station_id: int | None = None
    station_code: str | None = None
    category: str | None = None
    min_age: int | None = None  # the person's plausible age range must reach into [min_age, max_age]
    max_age: int | None = None
    min_days: int | None = None  # days stranded (arrival → now, or → exit for a settled/transferred person)
    max_days: int | None = None

    def as_args(self) -> dict[str, str]:
        """The filter as query arguments (for export links and pagers)."""
        values = {"station": self.station_code, "category": self.category, "min_age": self.min_age,
                  "max_age": self.max_age, "min_days": self.min_days, "max_days": self.max_days}
        return {k: str(v) for k, v in values.items() if v is not None}


@dataclass
class QueueRow:
    case: Case
    days_stranded: int
    age: tuple[int | None, int | None]
    overdue: list = field(default_factory=list)  # DueStep, the overdue ones
    stranded: bool = False  # 滞留: unidentified past the normal limit (DOMAIN.md)
    details: dict = field(default_factory=dict)  # queue-specific facts


def _whole(args: Mapping, name: str, lo: int, hi: int) -> int | None:
    raw = args.get(name)
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = int(str(raw).strip())
    except ValueError as exc:
        raise InvalidValue(f"{name} must be a whole number", name) from exc
    if not lo <= value <= hi:
        raise InvalidValue(f"{name} must be between {lo} and {hi}", name)
    return value


def parse_station(actor: User, args: Mapping) -> Station | None:
    """The `station` argument (a code): admins choose any; anyone else only their own."""
    code = str(args.get("station") or "").strip() or None
    if not code:
        return None
    station = db.session.scalar(select(Station).where(Station.code == code))
    if station is None:
        raise InvalidValue(f"no station with code {code}", "station")
    if actor.role != "admin" and station.id != actor.station_id:
        raise Forbidden("only an admin can look at another station")
    return station


def parse_filter(actor: User, args: Mapping) -> QueueFilter:
    """Query arguments (station, category, min_age, max_age, min_days, max_days) → QueueFilter.

    Only admins choose a station; anyone else may name their own station or none.
    """
    station = parse_station(actor, args)
    category = str(args.get("category") or "").strip() or None
    if category and category not in CATEGORIES:
        raise InvalidValue(f"category must be one of: {', '.join(CATEGORIES)}", "category")
    flt = QueueFilter(
        station_id=station.id if station else None, station_code=station.code if station else None,
        category=category,
        min_age=_whole(args, "min_age", 0, MAX_AGE), max_age=_whole(args, "max_age", 0, MAX_AGE),
        min_days=_whole(args, "min_days", 0, MAX_DAYS), max_days=_whole(args, "max_days", 0, MAX_DAYS),
    )
    for lo, hi in (("min_age", "max_age"), ("min_days", "max_days")):
        if getattr(flt, lo) is not None and getattr(flt, hi) is not None and getattr(flt, lo) > getattr(flt, hi):
            raise InvalidValue(f"{lo} is greater than {hi}", hi)
    return flt


def _candidates(actor: User, flt: QueueFilter, states: tuple[str, ...], *conditions):
    query = (
        visible_cases(actor)
        .where(Case.state.in_(states), *conditions)
        # What the deadline rules read, loaded in a few queries instead of one per case.
        .options(joinedload(Case.station), selectinload(Case.events),
                 selectinload(Case.channels).selectinload(SearchChannel.events))
        .order_by(Case.arrived_at, Case.id)
    )
    if flt.station_id is not None:
        query = query.where(Case.station_id == flt.station_id)
    return db.session.scalars(query).unique().all()


def _age_matches(age: tuple[int | None, int | None], flt: QueueFilter) -> bool:
    if flt.min_age is None and flt.max_age is None:
        return True
    youngest, oldest = age
    if youngest is None and oldest is None:
        return False  # an unknown age cannot be said to be in the range asked for
    youngest = youngest if youngest is not None else oldest
    oldest = oldest if oldest is not None else youngest
    return (flt.min_age is None or oldest >= flt.min_age) and (flt.max_age is None or youngest <= flt.max_age)


def _rows(cases, flt: QueueFilter, now: datetime) -> list[QueueRow]:
    rows = []
    for case in cases:
        if flt.category and flt.category not in (case.categories or []):
            continue
        days = days_stranded(case, now)
        if (flt.min_days is not None and days < flt.min_days) or (flt.max_days is not None and days > flt.max_days):
            continue
        age = age_bounds(case.birth_date, case.age_min, case.age_max, now.astimezone(deadlines.CHINA_TZ).date())
        if not _age_matches(age, flt):
            continue
        steps = family_search.due(case, now)
        snap = family_search.snapshot(case)
        station = case.station
        row = QueueRow(
            case=case, days_stranded=days, age=age, overdue=[s for s in steps if s.overdue],
            stranded=deadlines.is_stranded(snap, now, family_search.station_rules(station),
                                           family_search.station_calendar(station)),
        )
        row.details["steps"] = snap.steps
        row.details["due"] = steps
        rows.append(row)
    return rows


def stranded(actor: User, flt: QueueFilter = QueueFilter(), now: datetime | None = None) -> list[QueueRow]:
    """People in the station's care whose identity is not confirmed, longest stay first."""
    now = now or utcnow()
    cases = _candidates(actor, flt, OPEN_STATES, Case.identity_status != "confirmed")
    rows = _rows(cases, flt, now)
    rows.sort(key=lambda r: (-r.days_stranded, -len(r.overdue), r.case.id))
    return rows


def identified(actor: User, flt: QueueFilter = QueueFilter(), now: datetime | None = None) -> list[QueueRow]:
    """Identity confirmed but not home yet (the gap in "100% return of identified persons").

    Only those the station can still bring home: in the station or hospital, or settled/transferred
    (their search stays open). Someone who left, died or went to medical care is in the statistics,
    not in a work queue.
    """
    now = now or utcnow()
    cases = _candidates(actor, flt, OPEN_STATES + SEARCH_OPEN_STATES, Case.identity_status == "confirmed")
    rows = [r for r in _rows(cases, flt, now) if not counts_as_returned(r.case.exit_type)]
    for row in rows:
        steps = row.details["steps"]
        at = row.case.identified_at
        row.details.update(
            days_since_identified=max(0, (now - at).days) if at else None,
            family_contacted="family_contacted" in steps,
            return_arranged="return_arranged" in steps,
        )
    rows.sort(key=lambda r: (-(r.details["days_since_identified"] or 0), -r.days_stranded, r.case.id))
    return rows


def minors(actor: User, flt: QueueFilter = QueueFilter(), now: datetime | None = None) -> list[QueueRow]:
    """Minors in the station's care or with an open search, longest stay first (DOMAIN.md §Minors)."""
    now = now or utcnow()
    cases = _candidates(actor, flt, OPEN_STATES + SEARCH_OPEN_STATES, Case.is_minor.is_(True))
    rows = _rows(cases, flt, now)
    from ..models import Notice

    notices = {n.case_id: n for n in db.session.scalars(  # one statement for all, not one per minor
        select(Notice).where(Notice.case_id.in_([r.case.id for r in rows])))} if rows else {}
    for row in rows:
        steps = row.details["steps"]
        channels = {c.channel: c.status for c in row.case.channels}
        row.details.update(
            # Protective reading, as for exits: the youngest plausible age counts; unknown counts as under 16.
            under_16=next((a for a in row.age if a is not None), 0) < SELF_EXIT_AGE,
            # approved as a case step, or on the notice itself (notices.is_approved reads the same two)
            notice_approved="notice_approved" in steps or getattr(notices.get(row.case.id), "approved_at", None) is not None,
            dna=channels.get("dna", "not_started"),
            dna_requested="dna_requested" in steps,
        )
    rows.sort(key=lambda r: (-r.days_stranded, -len(r.overdue), r.case.id))
    return rows


QUEUE_FUNCTIONS = {"stranded": stranded, "identified": identified, "minors": minors}


def run(name: str, actor: User, flt: QueueFilter, now: datetime | None = None) -> list[QueueRow]:
    if name not in QUEUE_FUNCTIONS:
        raise InvalidValue(f"queue must be one of: {', '.join(QUEUES)}", "queue")
    return QUEUE_FUNCTIONS[name](actor, flt, now)
