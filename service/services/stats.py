"""Outcome statistics for supervisors: plain functions over a date range and what the actor may see.

Dates are Beijing calendar days (from and to both included); weeks start on Monday. The numbers the
plans are judged by (100% return of identified persons) are read as a cohort: of the people whose
identity was confirmed in the range, how many have gone home (an exit in RETURNED_HOME_EXITS) by now.
"""
from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from ..domain.channels import CHANNELS
from ..domain.deadlines import CHINA_TZ
from ..domain.errors import InvalidValue
from ..domain.fusion import provinces_in
from ..domain.lifecycle import OPEN_STATES, RETURNED_HOME_EXITS
from ..extensions import db
from ..models import CandidateMatch, Case, GalleryReport, User
from ..models.types import utcnow
from .cases import visible_cases
from .campaigns import lead_summary
from .reports import visible_reports

DEFAULT_DAYS = 182  # about six months when no range is given
MAX_DAYS = 3 * 366
BANDS = ("likely", "possible")
UNRECORDED = "unrecorded"  # identified before the decisive channel was recorded
UNKNOWN_PROVINCE = "unknown"
# Days stranded of open cases: 0–1, 2–7 (first week), 8–10 (normal limit), 11–30, 31–90, 91–365, a year and more.
STRANDED_BUCKETS = ((0, 1), (2, 7), (8, 10), (11, 30), (31, 90), (91, 365), (366, None))


@dataclass(frozen=True)
class DateRange:
    """Beijing calendar days, both ends included."""

    start: date
    end: date

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=CHINA_TZ)

    @property
    def end_before(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=CHINA_TZ)

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.start_at <= moment < self.end_before

    def weeks(self) -> list[date]:
        """The Mondays of every week the range touches."""
        first = self.start - timedelta(days=self.start.weekday())
        return [first + timedelta(weeks=n) for n in range((self.end - first).days // 7 + 1)]


def local_date(moment: datetime) -> date:
    return moment.astimezone(CHINA_TZ).date()


def week_of(moment: datetime) -> date:
    day = local_date(moment)
    return day - timedelta(days=day.weekday())


def parse_range(args: Mapping, today: date | None = None) -> DateRange:
    """`from`/`to` (YYYY-MM-DD, Beijing days) → DateRange; defaults: the last DEFAULT_DAYS up to today."""
    today = today or local_date(utcnow())
    values = {}
    for name in ("from", "to"):
        raw = str(args.get(name) or "").strip()
        if not raw:
            values[name] = None
            continue
        try:
            values[name] = date.fromisoformat(raw)
        except ValueError as exc:
            raise InvalidValue(f"{name} must be a date like 2026-01-31", name) from exc
    for name, day in values.items():
        if day is not None and not 2000 <= day.year <= 2100:
            raise InvalidValue(f"{name} is out of range (years 2000 to 2100)", name)
    end = values["to"] or today
    start = values["from"] or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InvalidValue("from is after to", "from")
    if (end - start).days >= MAX_DAYS:
        raise InvalidValue(f"the range may cover at most {MAX_DAYS} days", "from")
    return DateRange(start, end)


def _cases(actor: User, station_id: int | None, *columns, where=()):
    query = visible_cases(actor).with_only_columns(*columns).where(*where)
    if station_id is not None:
        query = query.where(Case.station_id == station_id)
    return db.session.execute(query).all()


def arrivals_per_week(actor: User, rng: DateRange, station_id: int | None = None) -> dict[date, int]:
    rows = _cases(actor, station_id, Case.arrived_at,
                  where=(Case.arrived_at >= rng.start_at, Case.arrived_at < rng.end_before))
    counts = Counter(week_of(r.arrived_at) for r in rows)
    return {week: counts.get(week, 0) for week in rng.weeks()}


def _identified_cohort(actor: User, rng: DateRange, station_id: int | None):
    return _cases(
        actor, station_id, Case.id, Case.arrived_at, Case.identified_at, Case.identified_by_channel, Case.exit_type,
        where=(Case.identity_status == "confirmed", Case.identified_at >= rng.start_at,
               Case.identified_at < rng.end_before),
    )


def identified_returned_per_week(actor: User, rng: DateRange, station_id: int | None = None) -> dict[date, dict]:
    """Identities confirmed per week, and returns home per week (by the week of the exit)."""
    weeks = {week: {"identified": 0, "returned": 0} for week in rng.weeks()}
    for row in _identified_cohort(actor, rng, station_id):
        weeks[week_of(row.identified_at)]["identified"] += 1
    for row in _returns_home(actor, rng, station_id):
        weeks[week_of(row.closed_at)]["returned"] += 1
    return weeks


def _returns_home(actor: User, rng: DateRange, station_id: int | None):
    return _cases(actor, station_id, Case.id, Case.closed_at,
                  where=(Case.exit_type.in_(sorted(RETURNED_HOME_EXITS)), Case.closed_at >= rng.start_at,
                         Case.closed_at < rng.end_before))


def outcomes(actor: User, rng: DateRange, station_id: int | None = None) -> dict:
    """identified, returned (of them), return_rate_identified, median_days_to_identify, per-channel outcomes."""
    cohort = _identified_cohort(actor, rng, station_id)
    returned = [r for r in cohort if r.exit_type in RETURNED_HOME_EXITS]
    days = [max(0.0, (r.identified_at - r.arrived_at).total_seconds() / 86400) for r in cohort]
    per_channel = {name: {"channel": name, "identified": 0, "returned": 0} for name in (*CHANNELS, UNRECORDED)}
    for row in cohort:
        entry = per_channel[row.identified_by_channel if row.identified_by_channel in CHANNELS else UNRECORDED]
        entry["identified"] += 1
        entry["returned"] += row.exit_type in RETURNED_HOME_EXITS
    return {
        "identified": len(cohort),
        "returned": len(returned),
        "return_rate_identified": round(len(returned) / len(cohort), 4) if cohort else None,
        "median_days_to_identify": round(statistics.median(days), 1) if days else None,
        "channels": list(per_channel.values()),
    }


def stranded_histogram(actor: User, station_id: int | None = None, now: datetime | None = None) -> list[dict]:
    """Open cases (in the station or hospital) now, by whole days since arrival."""
    now = now or utcnow()
    rows = _cases(actor, station_id, Case.arrived_at, where=(Case.state.in_(OPEN_STATES),))
    days = [max(0, (now - r.arrived_at).days) for r in rows]
    out = []
    for lo, hi in STRANDED_BUCKETS:
        label = f"{lo}-{hi}" if hi is not None else f"{lo}+"
        out.append({"bucket": label, "min": lo, "max": hi,
                    "count": sum(1 for d in days if d >= lo and (hi is None or d <= hi))})
    return out


def face_precision(actor: User, rng: DateRange, station_id: int | None = None) -> list[dict]:
    """Per band: candidates decided in the range, confirmed ÷ (confirmed + rejected); pending now."""
    query = select(CandidateMatch.band, CandidateMatch.status, CandidateMatch.decided_at).join(
        Case, Case.id == CandidateMatch.case_id).where(CandidateMatch.kind != "description")
    if actor.role != "admin":
        query = query.where(Case.station_id == actor.station_id)
    if station_id is not None:
        query = query.where(Case.station_id == station_id)
    rows = db.session.execute(query).all()
    out = []
    for band in BANDS:
        decided = [r for r in rows if r.band == band and r.status in ("confirmed", "rejected") and rng.holds(r.decided_at)]
        confirmed = sum(1 for r in decided if r.status == "confirmed")
        out.append({
            "band": band, "confirmed": confirmed, "rejected": len(decided) - confirmed, "reviewed": len(decided),
            "precision": round(confirmed / len(decided), 4) if decided else None,
            "pending": sum(1 for r in rows if r.band == band and r.status == "pending"),
        })
    return out


def _re_arrivals(actor: User, rng: DateRange, station_id: int | None) -> int:
    from .followups import re_arrival_count

    station = station_id if station_id is not None or actor.role == "admin" else actor.station_id
    return re_arrival_count(station, rng.start_at, rng.end_before)


def gallery_coverage(actor: User) -> list[dict]:
    """Reports per province named in hometown or missing place (the gallery is shared by every station).

    A report naming two provinces counts for both; one naming none counts as "unknown".
    """
    query = visible_reports(actor).with_only_columns(GalleryReport.hometown, GalleryReport.missing_place,
                                                     GalleryReport.status)
    total, open_ = Counter(), Counter()
    for row in db.session.execute(query):
        for province in provinces_in(row.hometown, row.missing_place) or {UNKNOWN_PROVINCE}:
            total[province] += 1
            open_[province] += row.status == "open"
    return [{"province": p, "reports": total[p], "open": open_[p]}
            for p in sorted(total, key=lambda p: (p == UNKNOWN_PROVINCE, -total[p], p))]


def summary(actor: User, rng: DateRange, station_id: int | None = None, now: datetime | None = None) -> dict:
    """Every number of the dashboard and GET /api/v1/stats."""
    now = now or utcnow()
    arrivals = arrivals_per_week(actor, rng, station_id)
    flows = identified_returned_per_week(actor, rng, station_id)
    result = outcomes(actor, rng, station_id)
    open_cases = _cases(actor, station_id, func.count(Case.id), where=(Case.state.in_(OPEN_STATES),))[0][0]
    return {
        "from": rng.start.isoformat(),
        "to": rng.end.isoformat(),
        "arrivals": sum(arrivals.values()),
        **{k: result[k] for k in ("identified", "returned", "return_rate_identified", "median_days_to_identify")},
        "returns_home": sum(w["returned"] for w in flows.values()),
        "open_cases": open_cases,
        # People sent home who arrived at a station again (a confirmed earlier stay that ended at home).
        "re_arrivals": _re_arrivals(actor, rng, station_id),
        "channels": result["channels"],
        "decisive_channels": {c["channel"]: c["identified"] for c in result["channels"]},
        "weeks": [{"week_start": week.isoformat(), "arrivals": arrivals[week], **flows[week]} for week in rng.weeks()],
        "stranded_days": stranded_histogram(actor, station_id, now),
        "face_precision": face_precision(actor, rng, station_id),
        "gallery_coverage": gallery_coverage(actor),
        # Street leads (一小时救助圈): share answered within an hour, medians, by source, per campaign.
        "leads": lead_summary(actor, rng.start_at, rng.end_before, station_id, now),
    }
