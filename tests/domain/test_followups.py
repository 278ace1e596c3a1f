from datetime import date

import pytest

from service.domain.followups import InvalidFollowUp, check_outcome, schedule, state


def test_schedule_one_week_one_month_three_months():
    assert schedule(date(2026, 1, 10)) == [("1w", date(2026, 1, 17)), ("1m", date(2026, 2, 9)), ("3m", date(2026, 4, 11))]


@pytest.mark.parametrize("due, outcome, expected", [
    (date(2026, 3, 1), None, "overdue"), (date(2026, 3, 10), None, "due"), (date(2026, 3, 12), None, "due"),
    (date(2026, 3, 20), None, "scheduled"), (date(2026, 3, 1), "settled_well", "done"),
])
def test_state(due, outcome, expected):
    assert state(due, outcome, date(2026, 3, 10)) == expected


def test_outcomes():
    assert check_outcome("left_home_again", None) == "left_home_again"
    with pytest.raises(InvalidFollowUp):
        check_outcome("fine", None)
    with pytest.raises(InvalidFollowUp, match="note"):
        check_outcome("other", " ")
