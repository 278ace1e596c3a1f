"""After going home: follow-up calls at 1 week, 1 month and 3 months, and what they found."""
from __future__ import annotations

from datetime import date, timedelta

from .errors import InvalidValue

# Step code → days after the return. A station may change these like its deadline rules.
SCHEDULE: tuple[tuple[str, int], ...] = (("1w", 7), ("1m", 30), ("3m", 91))
OUTCOMES = ("settled_well", "needs_support", "left_home_again", "unreachable", "deceased", "other")
# Outcomes that call for a supervisor's attention (and stop nothing: later calls still happen).
WORRYING = frozenset({"needs_support", "left_home_again", "unreachable"})
# A follow-up is "due" on the queue from this many days before its date.
DUE_AHEAD_DAYS = 2


class InvalidFollowUp(InvalidValue):
    code = "invalid_follow_up"


def schedule(returned_on: date, steps=SCHEDULE) -> list[tuple[str, date]]:
    return [(code, returned_on + timedelta(days=days)) for code, days in steps]


def check_outcome(outcome: str | None, note: str | None) -> str:
    if outcome not in OUTCOMES:
        raise InvalidFollowUp(f"outcome must be one of: {', '.join(OUTCOMES)}", "outcome")
    if outcome == "other" and not (note or "").strip():
        raise InvalidFollowUp("say what happened (note)", "note")
    return outcome


def state(due_on: date, outcome: str | None, today: date) -> str:
    """done | overdue | due | scheduled."""
    if outcome:
        return "done"
    if due_on < today:
        return "overdue"
    return "due" if due_on <= today + timedelta(days=DUE_AHEAD_DAYS) else "scheduled"
