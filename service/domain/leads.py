"""Street leads (街面巡查 / 群众报告): a sighting of someone who seems stranded, until it is closed.

Plain rules, no Flask or SQL: the lead lifecycle as a transition table, outcomes, how urgent a lead is,
and the response times of the "one-hour rescue circle" (一小时救助圈) computed from timestamps given.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import median

from .errors import Conflict, InvalidValue

SOURCES = ("patrol", "grid_worker", "social_worker", "volunteer", "driver", "citizen", "police", "other")
# Urgency flags a reporter ticks; the order is the order of danger.
URGENCY_FLAGS = ("injured", "cold", "heat", "minor", "elderly", "mental")
FLAG_WEIGHT = {"injured": 40, "cold": 30, "heat": 30, "minor": 25, "elderly": 15, "mental": 10}

STATUSES = ("open", "assigned", "on_site", "closed")
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"assigned", "closed"}),
    "assigned": frozenset({"assigned", "on_site", "closed"}),  # re-assigning to another team is allowed
    "on_site": frozenset({"closed"}),
    "closed": frozenset(),
}
# How a lead ends. `brought_in` always has an arrival (a case) behind it.
OUTCOMES = ("brought_in", "refused_help", "not_found", "referred_police", "referred_hospital", "duplicate")
# The face check a reporter may see, and nothing more (never a name, a photo or a case number).
FACE_CHECKS = ("pending", "known", "not_known", "no_face")

ONE_HOUR = timedelta(hours=1)
CAMPAIGN_KINDS = ("cold_wave", "heat_wave", "holiday", "other")


def check_transition(current: str, new: str) -> None:
    if new not in STATUSES:
        raise InvalidValue(f"status must be one of: {', '.join(STATUSES)}", "status")
    if new not in TRANSITIONS[current]:
        raise Conflict(f"a lead that is {current} cannot become {new}", "status")


def clean_flags(flags) -> list[str]:
    """The urgency flags in danger order; an unknown flag is an error, not silently dropped."""
    flags = list(flags or [])
    unknown = [f for f in flags if f not in URGENCY_FLAGS]
    if unknown:
        raise InvalidValue(f"urgency must be among: {', '.join(URGENCY_FLAGS)}", "urgency")
    return [f for f in URGENCY_FLAGS if f in flags]


def urgency_score(flags, reported_at: datetime, now: datetime) -> float:
    """Higher first: danger flags, then waiting time (a point per 5 minutes, so an old plain lead rises)."""
    waited = max((now - reported_at).total_seconds(), 0) / 300
    return sum(FLAG_WEIGHT.get(f, 0) for f in flags) + waited


def check_coordinates(lat, lng) -> tuple[float | None, float | None]:
    if lat is None and lng is None:
        return None, None
    if lat is None or lng is None:
        raise InvalidValue("give both latitude and longitude, or neither", "lat")
    try:
        lat, lng = float(lat), float(lng)
    except (TypeError, ValueError) as exc:
        raise InvalidValue("latitude and longitude must be numbers", "lat") from exc
    if not (-90 <= lat <= 90) or not (-180 <= lng <= 180) or lat != lat or lng != lng:
        raise InvalidValue("latitude must be within ±90 and longitude within ±180", "lat")
    return lat, lng


@dataclass(frozen=True)
class Times:
    """The moments of one lead that response times are measured between."""

    reported_at: datetime
    assigned_at: datetime | None = None
    on_site_at: datetime | None = None
    arrived_at: datetime | None = None  # the arrival (case) it became, if brought in
    closed_at: datetime | None = None

    @property
    def to_on_site(self) -> timedelta | None:
        return self.on_site_at - self.reported_at if self.on_site_at else None

    @property
    def to_arrival(self) -> timedelta | None:
        return self.arrived_at - self.reported_at if self.arrived_at else None

    def answered_within(self, limit: timedelta, now: datetime) -> bool | None:
        """True/False once it is decided; None while a lead is still young enough to make it."""
        if self.on_site_at is not None:
            return self.on_site_at - self.reported_at <= limit
        if now - self.reported_at > limit:
            return False
        return None


@dataclass(frozen=True)
class ResponseStats:
    leads: int
    decided: int  # leads whose one-hour answer is known (team on site, or the hour is over)
    within_hour: int
    share_within_hour: float | None
    median_minutes_to_on_site: float | None
    median_minutes_to_arrival: float | None


def response_stats(times: list[Times], now: datetime) -> ResponseStats:
    """Share answered within one hour (team on site), medians in minutes; young open leads wait.
    Callers leave duplicate reports out: the person they describe is counted once, by the first report."""
    answers = [t.answered_within(ONE_HOUR, now) for t in times]
    decided = [a for a in answers if a is not None]
    to_site = [t.to_on_site.total_seconds() / 60 for t in times if t.to_on_site is not None]
    to_arrival = [t.to_arrival.total_seconds() / 60 for t in times if t.to_arrival is not None]
    within = sum(1 for a in decided if a)
    return ResponseStats(
        leads=len(times),
        decided=len(decided),
        within_hour=within,
        share_within_hour=round(within / len(decided), 4) if decided else None,
        median_minutes_to_on_site=round(median(to_site), 1) if to_site else None,
        median_minutes_to_arrival=round(median(to_arrival), 1) if to_arrival else None,
    )


def check_campaign_dates(starts_on: date | None, ends_on: date | None) -> None:
    if starts_on is None or ends_on is None:
        raise InvalidValue("a campaign needs a first and a last day", "starts_on")
    if ends_on < starts_on:
        raise InvalidValue("the last day comes before the first", "ends_on")
    if (ends_on - starts_on).days > 366:
        raise InvalidValue("a campaign lasts a year at most", "ends_on")
