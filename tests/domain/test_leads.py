"""Street-lead rules without a database: lifecycle, urgency order, response times on fixed clocks."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from service.domain import leads
from service.domain.errors import Conflict, InvalidValue

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)  # 09:00 in Beijing


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize("current,new,ok", [
    ("open", "assigned", True), ("open", "closed", True), ("open", "on_site", False),
    ("assigned", "assigned", True), ("assigned", "on_site", True), ("assigned", "closed", True),
    ("on_site", "closed", True), ("on_site", "assigned", False), ("closed", "open", False), ("closed", "assigned", False),
])
def test_transitions(current, new, ok):
    if ok:
        leads.check_transition(current, new)
    else:
        with pytest.raises(Conflict):
            leads.check_transition(current, new)


def test_unknown_status_is_invalid():
    with pytest.raises(InvalidValue):
        leads.check_transition("open", "gone")


def test_flags_are_kept_in_danger_order_and_unknown_ones_refused():
    assert leads.clean_flags(["minor", "injured"]) == ["injured", "minor"]
    with pytest.raises(InvalidValue):
        leads.clean_flags(["injured", "bored"])


def test_urgency_order_danger_first_then_waiting():
    now = at(60)
    injured_now = leads.urgency_score(["injured"], at(59), now)
    plain_hour = leads.urgency_score([], at(0), now)  # 60 min waiting = 12 points
    cold_recent = leads.urgency_score(["cold"], at(50), now)
    assert injured_now > cold_recent > plain_hour
    # a plain lead left waiting long enough rises above a fresh cold one
    assert leads.urgency_score([], at(-180), now) > cold_recent


@pytest.mark.parametrize("lat,lng,ok", [(39.1, 117.2, True), (None, None, True), (91, 0, False), (0, 181, False),
                                        (39.1, None, False), ("x", 1, False), (float("nan"), 1, False)])
def test_coordinates(lat, lng, ok):
    if ok:
        leads.check_coordinates(lat, lng)
    else:
        with pytest.raises(InvalidValue):
            leads.check_coordinates(lat, lng)


def test_response_times_on_a_fixed_clock():
    t = leads.Times(reported_at=at(0), assigned_at=at(5), on_site_at=at(42), arrived_at=at(95))
    assert t.to_on_site == timedelta(minutes=42)
    assert t.to_arrival == timedelta(minutes=95)
    assert t.answered_within(leads.ONE_HOUR, at(500)) is True


def test_one_hour_answer_waits_for_young_leads_and_fails_old_ones():
    young = leads.Times(reported_at=at(0))
    assert young.answered_within(leads.ONE_HOUR, at(30)) is None
    assert young.answered_within(leads.ONE_HOUR, at(61)) is False
    late = leads.Times(reported_at=at(0), on_site_at=at(61))
    assert late.answered_within(leads.ONE_HOUR, at(61)) is False
    exact = leads.Times(reported_at=at(0), on_site_at=at(60))
    assert exact.answered_within(leads.ONE_HOUR, at(60)) is True


def test_response_stats_hand_computed():
    now = at(24 * 60)
    times = [
        leads.Times(reported_at=at(0), on_site_at=at(20), arrived_at=at(50)),    # within, 20 / 50
        leads.Times(reported_at=at(0), on_site_at=at(40)),                       # within, 40
        leads.Times(reported_at=at(0), on_site_at=at(90), arrived_at=at(130)),   # late, 90 / 130
        leads.Times(reported_at=at(0)),                                          # never answered: late
        leads.Times(reported_at=now - timedelta(minutes=10)),                    # young: not decided yet
    ]
    stats = leads.response_stats(times, now)
    assert (stats.leads, stats.decided, stats.within_hour) == (5, 4, 2)
    assert stats.share_within_hour == 0.5
    assert stats.median_minutes_to_on_site == 40.0   # of 20, 40, 90
    assert stats.median_minutes_to_arrival == 90.0   # of 50, 130
    empty = leads.response_stats([], now)
    assert empty.share_within_hour is None and empty.median_minutes_to_on_site is None


def test_campaign_dates():
    leads.check_campaign_dates(date(2026, 12, 1), date(2026, 12, 31))
    for start, end in ((None, date(2026, 1, 1)), (date(2026, 2, 1), date(2026, 1, 1)), (date(2026, 1, 1), date(2027, 6, 1))):
        with pytest.raises(InvalidValue):
            leads.check_campaign_dates(start, end)
