"""Deadlines as data: the default rules table, per-station overrides, working days, and what is due when."""
from __future__ import annotations

import calendar as _calendar
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone, tzinfo

from .channels import CHANNELS, STATUSES, STEP_KEYS, all_channels_tried
from .errors import InvalidValue
from .lifecycle import OPEN_STATES, SEARCHING

# China has one time zone and no daylight saving; weekdays and holidays are judged on Beijing time.
CHINA_TZ = timezone(timedelta(hours=8), "CST")
UNITS = {"h": "hours", "d": "days", "wd": "working_days", "mo": "months"}
_SPAN = re.compile(r"^(\d{1,4})(h|d|wd|mo)$")
# Case-level events the rules look for, beside the channel steps ("portal_posted", "dna_result"...).
CASE_STEP_KEYS = (
    "lead",  # a new lead or detail that the public notices must reflect
    "notice_approved",  # a supervisor approved public notices of a minor
    "extension_approved",
    "settlement_review",
    "identity_confirmed",
    "family_contacted",
    "return_arranged",
)
ANCHORS = ("arrival",) + CASE_STEP_KEYS + STEP_KEYS


class InvalidRuleOverride(InvalidValue):
    code = "invalid_rule_override"


@dataclass(frozen=True)
class Span:
    """A length of time in one unit: hours, calendar days, working days or calendar months."""

    amount: int
    unit: str

    @classmethod
    def parse(cls, text: str) -> Span:
        match = _SPAN.match(text) if isinstance(text, str) else None
        if not match:
            raise ValueError(f"{text!r} is not a duration such as 24h, 1d, 7wd or 1mo")
        return cls(int(match[1]), UNITS[match[2]])

    def __str__(self) -> str:
        return f"{self.amount}{next(k for k, v in UNITS.items() if v == self.unit)}"


@dataclass(frozen=True)
class WorkCalendar:
    """Working days: Monday–Friday, minus public holidays, plus make-up working days (调休)."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    tz: tzinfo = CHINA_TZ

    def is_working_day(self, day: date) -> bool:
        return day in self.workdays or (day.weekday() < 5 and day not in self.holidays)

    def add(self, start: datetime, span: Span) -> datetime:
        """`start` moved on by `span`; working days and months keep the local time of day."""
        if span.unit == "hours":
            return start + timedelta(hours=span.amount)
        if span.unit == "days":
            return start + timedelta(days=span.amount)
        local = start.astimezone(self.tz)
        if span.unit == "months":
            year, month = divmod(local.month - 1 + span.amount, 12)
            year, month = local.year + year, month + 1
            return local.replace(year=year, month=month, day=min(local.day, _calendar.monthrange(year, month)[1]))
        # The day of arrival does not count: the first working day is the next one (as in 行政期限).
        day, counted = local.date(), 0
        while counted < span.amount:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return datetime.combine(day, local.timetz())

    def as_json(self) -> dict:
        return {"holidays": sorted(d.isoformat() for d in self.holidays),
                "workdays": sorted(d.isoformat() for d in self.workdays)}

    @classmethod
    def from_json(cls, data: dict) -> WorkCalendar:
        try:
            days = {k: frozenset(date.fromisoformat(d) for d in data.get(k, ())) for k in ("holidays", "workdays")}
        except (TypeError, ValueError, AttributeError) as exc:
            raise InvalidValue(f"calendar dates must be YYYY-MM-DD: {exc}", "calendar") from exc
        both = days["holidays"] & days["workdays"]
        if both:
            raise InvalidValue(f"{min(both)} is both a holiday and a working day", "calendar")
        return cls(days["holidays"], days["workdays"])


@dataclass(frozen=True)
class Rule:
    """One deadline: `done_by` must happen within `offset` of `anchor` (or every `every`, if it repeats)."""

    code: str
    description: str
    channel: str | None  # None for case-level duties
    anchor: str  # "arrival" or the step that starts the clock
    offset: Span
    done_by: tuple[str, ...]  # steps that fulfil the rule (the latest one after the anchor counts)
    every: Span | None = None  # repeats: next due `every` after the last time it was done
    starts: Span | None = None  # not shown before this long after the anchor
    # Conditions, all must hold: a CONDITIONS name, "done:<step>" (it happened) or "category:<name>".
    when: tuple[str, ...] = ()
    states: tuple[str, ...] = OPEN_STATES
    minor_offset: Span | None = None  # minors' stricter deadline
    enabled: bool = True


def _span(text: str) -> Span:
    return Span.parse(text)


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("face_run", "photo taken and face comparison run", "face", "arrival", _span("24h"), ("face_run",),
         when=("unidentified",)),
    Rule("portal_notice", "notice published on the national family-search portal", "portal", "arrival",
         _span("24h"), ("portal_posted",), when=("unidentified",)),
    Rule("minor_notice_approval", "supervisor approves public notices of a minor", "portal", "arrival",
         _span("24h"), ("notice_approved",), when=("unidentified", "minor")),
    # The push names the person publicly: prompted only once the stay passes a day, due by the end of day 2.
    Rule("toutiao_push", "geo-targeted toutiao push sent", "toutiao", "arrival", _span("2d"), ("toutiao_pushed",),
         starts=_span("1d"), when=("unidentified",)),
    Rule("portal_lead_update", "portal notice updated after a new lead or detail", "portal", "lead", _span("1d"),
         ("portal_refreshed", "portal_posted"), when=("unidentified", "done:portal_posted"), states=SEARCHING),
    Rule("toutiao_lead_update", "toutiao push updated after a new lead or detail", "toutiao", "lead", _span("1d"),
         ("toutiao_pushed",), when=("unidentified", "done:toutiao_pushed"), states=SEARCHING),
    # Minors: "at once", read as within 24 h of arrival.
    Rule("dna_request", "DNA sample requested from the police", "dna", "arrival", _span("7wd"), ("dna_requested",),
         when=("unidentified",), minor_offset=_span("24h")),
    Rule("dna_result", "police DNA result recorded (else chase the police)", "dna", "dna_requested", _span("1mo"),
         ("dna_result",), when=("unidentified",), states=SEARCHING),
    Rule("interview", "interview repeated (names, places, memories, dialect)", "interview", "arrival", _span("7d"),
         ("interview_held",), every=_span("7d"), when=("unidentified",)),
    Rule("extension_approval", "supervisor approves a stay beyond the normal limit", None, "arrival", _span("10d"),
         ("extension_approved",)),
    Rule("notice_refresh", "portal notice refreshed (monthly while unidentified)", "portal", "arrival", _span("1mo"),
         ("portal_refreshed", "portal_posted"), every=_span("1mo"), when=("unidentified",), states=SEARCHING),
    Rule("settlement_review", "eligible for settlement review (落户安置)", None, "arrival", _span("3mo"),
         ("settlement_review",), when=("unidentified", "all_channels_tried")),
    Rule("family_contact", "family contacted", None, "identity_confirmed", _span("1d"), ("family_contacted",),
         when=("identified",)),
    # "As soon as health allows": not due while the person is in hospital.
    Rule("return_arranged", "return home arranged", None, "identity_confirmed", _span("3d"), ("return_arranged",),
         when=("identified",), states=("in_station",)),
)
RULE_CODES = tuple(r.code for r in DEFAULT_RULES)


@dataclass(frozen=True)
class CaseSnapshot:
    """What the deadline rules need to know about one case at one moment."""

    arrived_at: datetime
    identity_status: str = "unknown"
    is_minor: bool = False
    state: str = "in_station"
    categories: frozenset[str] = frozenset()
    channels: Mapping[str, str] = field(default_factory=dict)  # channel → status; missing = not_started
    steps: Mapping[str, datetime] = field(default_factory=dict)  # step key → when it last happened

    def __post_init__(self):
        # Typos here would silently make a step look undone: fail loudly instead.
        unknown = set(self.steps) - set(ANCHORS) | set(self.channels) - set(CHANNELS)
        if unknown:
            raise ValueError(f"unknown step or channel: {', '.join(sorted(unknown))}")
        if not set(self.channels.values()) <= set(STATUSES):
            raise ValueError(f"unknown channel status in {dict(self.channels)}")
        if any(t.tzinfo is None for t in (self.arrived_at, *self.steps.values())):
            raise ValueError("times must carry a time zone")

    @property
    def identified(self) -> bool:
        return self.identity_status == "confirmed"


@dataclass(frozen=True)
class DueStep:
    rule_code: str
    channel: str | None
    due_at: datetime
    overdue: bool
    done: bool
    description: str
    done_at: datetime | None = None


CONDITIONS = {
    "unidentified": lambda c: not c.identified,
    "identified": lambda c: c.identified,
    "minor": lambda c: c.is_minor,
    "all_channels_tried": lambda c: all_channels_tried(dict(c.channels)),
}


def _holds(condition: str, case: CaseSnapshot) -> bool:
    if condition.startswith("done:"):
        return condition[5:] in case.steps
    if condition.startswith("category:"):
        return condition[9:] in case.categories
    return CONDITIONS[condition](case)


def _anchor_time(rule: Rule, case: CaseSnapshot) -> datetime | None:
    return case.arrived_at if rule.anchor == "arrival" else case.steps.get(rule.anchor)


def _evaluate(rule: Rule, case: CaseSnapshot, now: datetime, cal: WorkCalendar) -> DueStep | None:
    if not rule.enabled or case.state not in rule.states or not all(_holds(c, case) for c in rule.when):
        return None
    if rule.channel and case.channels.get(rule.channel) == "not_applicable":
        return None
    anchor = _anchor_time(rule, case)
    if anchor is None or (rule.starts and now < cal.add(anchor, rule.starts)):
        return None
    offset = rule.minor_offset if case.is_minor and rule.minor_offset else rule.offset
    done_at = max((case.steps[k] for k in rule.done_by if k in case.steps and case.steps[k] >= anchor), default=None)
    if rule.every:
        # A repeating duty is never finished: the next round is due `every` after the last one.
        due_at, done = (cal.add(done_at, rule.every) if done_at else cal.add(anchor, offset)), False
    else:
        due_at, done = cal.add(anchor, offset), done_at is not None
    return DueStep(rule.code, rule.channel, due_at, not done and now > due_at, done, rule.description, done_at)


def due_steps(
    case: CaseSnapshot, now: datetime, rules: tuple[Rule, ...] = DEFAULT_RULES, calendar: WorkCalendar = WorkCalendar()
) -> list[DueStep]:
    """Every step the rules ask of this case at `now` (done, pending or overdue), earliest first."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    steps = (_evaluate(rule, case, now, calendar) for rule in rules)
    return sorted((s for s in steps if s), key=lambda s: (s.due_at, s.rule_code))


def next_due_by_channel(steps: list[DueStep]) -> dict[str, DueStep]:
    """Per channel, the earliest step not yet done: the channel's `due_at` and `overdue`."""
    nearest: dict[str, DueStep] = {}
    for step in sorted(steps, key=lambda s: s.due_at):
        if step.channel and not step.done:
            nearest.setdefault(step.channel, step)
    return nearest


def rule_by_code(rules: tuple[Rule, ...], code: str) -> Rule:
    return next(r for r in rules if r.code == code)


def days_stranded(arrived_at: datetime, now: datetime) -> int:
    """Whole days since arrival (0 on the first day)."""
    return max(0, (now - arrived_at).days)


def _beyond(case: CaseSnapshot, now: datetime, rule: Rule, cal: WorkCalendar) -> bool:
    return case.state in OPEN_STATES and now > cal.add(case.arrived_at, rule.offset)


def extension_required(
    case: CaseSnapshot, now: datetime, rules: tuple[Rule, ...] = DEFAULT_RULES, calendar: WorkCalendar = WorkCalendar()
) -> bool:
    """The stay is past the normal limit and no extension has been approved."""
    rule = rule_by_code(rules, "extension_approval")
    return _beyond(case, now, rule, calendar) and "extension_approved" not in case.steps


def is_stranded(
    case: CaseSnapshot, now: datetime, rules: tuple[Rule, ...] = DEFAULT_RULES, calendar: WorkCalendar = WorkCalendar()
) -> bool:
    """滞留: still in the station's care past the normal limit with identity not confirmed."""
    return not case.identified and _beyond(case, now, rule_by_code(rules, "extension_approval"), calendar)


def settlement_eligible(
    case: CaseSnapshot, now: datetime, rules: tuple[Rule, ...] = DEFAULT_RULES, calendar: WorkCalendar = WorkCalendar()
) -> bool:
    """Unidentified for the review period with every applicable channel tried.

    A legal condition, so it holds even where a station has switched the reminder off.
    """
    rule = rule_by_code(rules, "settlement_review")
    return (
        case.state in OPEN_STATES
        and all(_holds(c, case) for c in rule.when)
        and now >= calendar.add(case.arrived_at, rule.offset)
    )


OVERRIDE_KEYS = ("enabled", "offset", "every", "starts", "minor_offset")


def effective_rules(
    overrides: Mapping[str, Mapping] | None, base: tuple[Rule, ...] = DEFAULT_RULES
) -> tuple[Rule, ...]:
    """The base rules with a station's overrides applied: {code: {"offset": "48h", "enabled": false, ...}}."""
    overrides = overrides or {}
    if not isinstance(overrides, Mapping):
        raise InvalidRuleOverride("overrides must be an object keyed by rule code", "rules")
    by_code = {r.code: r for r in base}
    for code, change in overrides.items():
        if code not in by_code:
            raise InvalidRuleOverride(f"unknown rule: {code}", code)
        if not isinstance(change, Mapping):
            raise InvalidRuleOverride(f"{code}: an override is an object of settings", code)
        by_code[code] = _override(by_code[code], change)
    return tuple(by_code[r.code] for r in base)


def _override(rule: Rule, change: Mapping) -> Rule:
    values = {}
    for key, value in change.items():
        where = f"{rule.code}.{key}"
        if key not in OVERRIDE_KEYS:
            raise InvalidRuleOverride(f"{where}: not a setting (one of {', '.join(OVERRIDE_KEYS)})", where)
        if key == "enabled":
            if not isinstance(value, bool):
                raise InvalidRuleOverride(f"{where}: must be true or false", where)
            values[key] = value
            continue
        if value is None and key in ("starts", "minor_offset"):
            values[key] = None
            continue
        if key == "every" and rule.every is None:
            raise InvalidRuleOverride(f"{where}: this rule does not repeat", where)
        try:
            span = Span.parse(value)
        except ValueError as exc:
            raise InvalidRuleOverride(f"{where}: {exc}", where) from exc
        if key == "every" and span.amount == 0:
            raise InvalidRuleOverride(f"{where}: a repeat interval must be longer than 0", where)
        values[key] = span
    return replace(rule, **values)


def dump_overrides(overrides: Mapping[str, Mapping]) -> str:
    """Overrides as JSON for storage (validated first)."""
    effective_rules(overrides)
    return json.dumps({code: dict(change) for code, change in overrides.items()}, sort_keys=True, ensure_ascii=False)


def load_overrides(text: str | None) -> dict:
    """Stored JSON back to overrides, refusing anything `effective_rules` would refuse."""
    try:
        overrides = json.loads(text) if text else {}
    except json.JSONDecodeError as exc:
        raise InvalidRuleOverride(f"rules are not valid JSON: {exc.msg}", "rules") from exc
    effective_rules(overrides)
    return overrides


def describe(rule: Rule) -> dict:
    """A rule as JSON for the admin page."""
    return {
        "code": rule.code, "description": rule.description, "channel": rule.channel, "anchor": rule.anchor,
        "offset": str(rule.offset), "every": rule.every and str(rule.every), "starts": rule.starts and str(rule.starts),
        "minor_offset": rule.minor_offset and str(rule.minor_offset), "when": list(rule.when),
        "states": list(rule.states), "done_by": list(rule.done_by), "enabled": rule.enabled,
    }
