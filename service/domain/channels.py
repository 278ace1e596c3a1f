"""The six family-search channels (五加一): statuses, their legal changes, and what a step records."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlparse

from .errors import Conflict, Forbidden, InvalidValue
from .roles import role_at_least

CHANNELS = ("portal", "toutiao", "newspaper", "dna", "face", "interview")
STATUSES = ("not_started", "in_progress", "lead", "confirmed", "no_result", "not_applicable")
PUBLIC_CHANNELS = ("portal", "toutiao", "newspaper")  # notices the public sees

TRANSITIONS: dict[str, frozenset[str]] = {
    "not_started": frozenset({"in_progress", "lead", "not_applicable"}),
    "in_progress": frozenset({"lead", "confirmed", "no_result", "not_applicable"}),
    "lead": frozenset({"in_progress", "confirmed", "no_result"}),  # a lead that fails sends the search on
    "no_result": frozenset({"in_progress", "lead", "not_applicable"}),  # searches repeat
    "not_applicable": frozenset({"in_progress"}),  # circumstances change (e.g. doubts about a name)
    "confirmed": frozenset(),
}
# Undoing a confirmation reopens an identification: a supervisor's decision, with a reason.
REOPEN: dict[str, frozenset[str]] = {"confirmed": frozenset({"in_progress", "lead"})}
NEEDS_REASON = frozenset({"not_applicable"})
# "Tried" for the settlement review: anything past not_started (not_applicable channels are left out).
TRIED = frozenset({"in_progress", "lead", "confirmed", "no_result"})


class IllegalChannelTransition(Conflict):
    code = "illegal_channel_transition"


class NoticeNeedsApproval(Conflict):
    code = "notice_needs_approval"


class InvalidStep(InvalidValue):
    code = "invalid_step"

    def __init__(self, field: str, message: str):
        super().__init__(message, field)


def apply_channel_event(current: str, new: str, reason: str | None = None, actor_role: str = "staff") -> str:
    """The channel's next status; the same status again just logs another step."""
    for name, value in (("status", current), ("status", new)):
        if value not in STATUSES:
            raise InvalidStep(name, f"unknown channel status: {value}")
    has_reason = bool((reason or "").strip())
    if new == current:
        return new
    if new in REOPEN.get(current, ()):
        if not role_at_least(actor_role, "supervisor"):
            raise Forbidden(f"reopening a {current} channel needs a supervisor")
        if not has_reason:
            raise InvalidStep("reason", f"reopening a {current} channel needs a reason")
        return new
    if new not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current] | REOPEN.get(current, frozenset()))) or "none"
        raise IllegalChannelTransition(f"a channel cannot go from {current} to {new} (allowed: {allowed})", "status")
    if new in NEEDS_REASON and not has_reason:
        raise InvalidStep("reason", f"{new} needs a reason")
    return new


def check_notice_allowed(channel: str, is_minor: bool, approved: bool) -> None:
    """Public notices of minors need a supervisor's approval first (DOMAIN.md §Minors)."""
    if channel in PUBLIC_CHANNELS and is_minor and not approved:
        raise NoticeNeedsApproval(f"a {channel} notice of a minor needs a supervisor's approval first", "channel")


def all_channels_tried(statuses: dict[str, str]) -> bool:
    """Every applicable channel has been tried; a missing channel counts as not started."""
    applicable = [statuses.get(c, "not_started") for c in CHANNELS if statuses.get(c) != "not_applicable"]
    return all(s in TRIED for s in applicable)


@dataclass(frozen=True)
class StepField:
    name: str
    kind: str = "text"  # text | url | int | number | date | datetime | choice | texts
    required: bool = False
    choices: tuple[str, ...] = ()


def _f(name, kind="text", required=False, choices=()):
    return StepField(name, kind, required, tuple(choices))


# What a step of each kind records. "{channel}_{kind}" is the step key the deadline rules look for.
STEP_KINDS: dict[str, dict[str, tuple[StepField, ...]]] = {
    "portal": {
        "posted": (_f("post_id", required=True), _f("url", "url")),
        "refreshed": (_f("post_id", required=True), _f("url", "url")),
        "withdrawn": (_f("post_id", required=True),),
    },
    "toutiao": {
        "pushed": (_f("area", required=True), _f("radius_km", "number", True), _f("pushed_at", "datetime", True)),
    },
    "newspaper": {
        "published": (_f("paper", required=True), _f("published_on", "date", True)),
    },
    "dna": {
        "requested": (_f("police_office"),),
        "collected": (_f("sample_id", required=True),),
        "result": (_f("sample_id"), _f("result", "choice", True, ("match", "no_match"))),
        # The police's fingerprint check, a step of identity checking (民政部·公安部 2015), recorded like DNA.
        "fingerprint_requested": (_f("police_office"),),
        "fingerprint_result": (_f("police_record"), _f("result", "choice", True, ("match", "no_match"))),
    },
    "face": {
        "run": (_f("engine"), _f("candidates", "int")),
        "reviewed": (_f("candidate_id", "int", True), _f("decision", "choice", True, ("confirmed", "rejected"))),
    },
    "interview": {
        "held": (
            _f("notes", required=True),
            _f("clue_names", "texts"),
            _f("clue_places", "texts"),
            _f("dialect"),
        ),
    },
}
COMMON_FIELDS = (_f("note"), _f("reference"))
STEP_FIELDS: dict[str, list[str]] = {
    channel: sorted({f.name for fields in kinds.values() for f in fields}) for channel, kinds in STEP_KINDS.items()
}
STEP_KEYS = tuple(f"{channel}_{kind}" for channel, kinds in STEP_KINDS.items() for kind in kinds)


def step_key(channel: str, kind: str) -> str:
    return f"{channel}_{kind}"


def validate_step(channel: str, fields: dict) -> dict:
    """Clean a step's fields into JSON-ready values; `kind` may be left out when the channel has one."""
    kinds = STEP_KINDS.get(channel)
    if kinds is None:
        raise InvalidStep("channel", f"unknown channel: {channel}")
    kind = fields.get("kind") or (next(iter(kinds)) if len(kinds) == 1 else None)
    if kind not in kinds:
        raise InvalidStep("kind", f"{channel} steps are one of: {', '.join(kinds)}")
    specs = {f.name: f for f in kinds[kind] + COMMON_FIELDS}
    unknown = sorted(set(fields) - set(specs) - {"kind"})
    if unknown:
        raise InvalidStep(unknown[0], f"a {channel} {kind} step has no field {unknown[0]}")
    cleaned: dict = {"kind": kind}
    for spec in specs.values():
        value = fields.get(spec.name)
        if value is None or (isinstance(value, str) and not value.strip()) or value == []:
            if spec.required:
                raise InvalidStep(spec.name, f"a {channel} {kind} step must record {spec.name}")
            continue
        cleaned[spec.name] = _clean(spec, value)
    return cleaned


def _clean(spec: StepField, value):
    try:
        if spec.kind == "text":
            return _text(value)
        if spec.kind == "texts":
            items = [value] if isinstance(value, str) else list(value)
            return [_text(v) for v in items if str(v).strip()]
        if spec.kind == "url":
            url = _text(value)
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError("must be an http(s) address")
            return url
        if spec.kind in ("int", "number"):
            return _number(value, whole=spec.kind == "int")
        if spec.kind == "date":
            return (value if isinstance(value, date) else date.fromisoformat(str(value))).isoformat()
        if spec.kind == "datetime":
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
            if moment.tzinfo is None:
                raise ValueError("needs a time zone offset, e.g. +08:00")
            return moment.isoformat()
        if spec.kind == "choice":
            if value not in spec.choices:
                raise ValueError(f"must be one of: {', '.join(spec.choices)}")
            return value
    except (TypeError, ValueError) as exc:
        raise InvalidStep(spec.name, f"{spec.name}: {exc}") from exc
    raise AssertionError(f"unknown field kind {spec.kind}")


def _number(value, whole: bool) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("must be a number")
    try:
        number = float(value)
    except ValueError:
        raise ValueError("must be a number") from None
    if not math.isfinite(number) or number < 0 or (number == 0 and not whole):
        raise ValueError("must be positive")
    if whole and number != int(number):
        raise ValueError("must be a whole number")
    return int(number) if whole else number


def _text(value) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError("must be text")
    return str(value).strip()
