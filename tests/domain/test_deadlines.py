"""Deadline rules on a moving clock: what is due, done and overdue for a case at each `now`."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from service.domain.channels import CHANNELS
from service.domain.errors import InvalidValue
from service.domain.deadlines import (
    ANCHORS,
    CONDITIONS,
    DEFAULT_RULES,
    CaseSnapshot,
    InvalidRuleOverride,
    Span,
    WorkCalendar,
    days_stranded,
    describe,
    due_steps,
    dump_overrides,
    effective_rules,
    extension_required,
    is_stranded,
    load_overrides,
    next_due_by_channel,
    settlement_eligible,
)

CST = timezone(timedelta(hours=8))
H, D = timedelta(hours=1), timedelta(days=1)


def at(month, day, hour=10, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=CST)


# Friday 3 April 2026; Mon 6 and Tue 7 April are holidays, Saturday 11 April a make-up working day (调休).
ARRIVED = at(4, 3)
CAL = WorkCalendar(holidays=frozenset({date(2026, 4, 6), date(2026, 4, 7)}), workdays=frozenset({date(2026, 4, 11)}))
NEGLECTED = CaseSnapshot(arrived_at=ARRIVED)
TRIED = {c: "no_result" for c in CHANNELS}


def table(case, now, rules=DEFAULT_RULES):
    return [(s.rule_code, s.overdue) for s in due_steps(case, now, rules, CAL)]


def test_rules_table_is_consistent():
    codes = [r.code for r in DEFAULT_RULES]
    assert len(codes) == len(set(codes))
    for rule in DEFAULT_RULES:
        assert rule.anchor in ANCHORS and set(rule.done_by) <= set(ANCHORS)
        assert rule.channel in (None, *CHANNELS)
        assert all(c in CONDITIONS or c.split(":")[1] in ANCHORS for c in rule.when)


@pytest.mark.parametrize(
    "now, expected",
    [
        (ARRIVED, [("face_run", False), ("portal_notice", False), ("interview", False),
                   ("extension_approval", False), ("dna_request", False), ("notice_refresh", False)]),
        (ARRIVED + 23 * H, [("face_run", False), ("portal_notice", False), ("interview", False),
                            ("extension_approval", False), ("dna_request", False), ("notice_refresh", False)]),
        # Past 24 h: notice and face run overdue; the stay passed a day, so the toutiao push appears.
        (ARRIVED + 25 * H, [("face_run", True), ("portal_notice", True), ("toutiao_push", False), ("interview", False),
                            ("extension_approval", False), ("dna_request", False), ("notice_refresh", False)]),
        (ARRIVED + 2 * D + H, [("face_run", True), ("portal_notice", True), ("toutiao_push", True),
                               ("interview", False), ("extension_approval", False), ("dna_request", False),
                               ("notice_refresh", False)]),
        # 7 working days from Friday end on Wednesday 15 April, so +11 days is still in time for DNA.
        (ARRIVED + 11 * D, [("face_run", True), ("portal_notice", True), ("toutiao_push", True), ("interview", True),
                            ("extension_approval", True), ("dna_request", False), ("notice_refresh", False)]),
        (ARRIVED + 35 * D, [("face_run", True), ("portal_notice", True), ("toutiao_push", True), ("interview", True),
                            ("extension_approval", True), ("dna_request", True), ("notice_refresh", True)]),
        # Nothing tried, so no settlement review even at 95 days.
        (ARRIVED + 95 * D, [("face_run", True), ("portal_notice", True), ("toutiao_push", True), ("interview", True),
                            ("extension_approval", True), ("dna_request", True), ("notice_refresh", True)]),
    ],
)
def test_neglected_case_on_a_moving_clock(now, expected):
    assert table(NEGLECTED, now) == expected


def test_due_dates_of_the_neglected_case():
    due = {s.rule_code: s.due_at for s in due_steps(NEGLECTED, ARRIVED + 25 * H, calendar=CAL)}
    assert due == {
        "face_run": at(4, 4), "portal_notice": at(4, 4), "toutiao_push": at(4, 5), "interview": at(4, 10),
        "extension_approval": at(4, 13), "dna_request": at(4, 15), "notice_refresh": at(5, 3),
    }


@pytest.mark.parametrize(
    "calendar, arrived, due",
    [
        (WorkCalendar(), ARRIVED, at(4, 14)),  # weekends only
        (WorkCalendar(holidays=CAL.holidays), ARRIVED, at(4, 16)),  # two holidays push it two days on
        (CAL, ARRIVED, at(4, 15)),  # ...and the make-up Saturday pulls one back
        (CAL, at(4, 4, 9), at(4, 15, 9)),  # arriving on a Saturday: counting starts after it all the same
        # Thursday 20:00 UTC is Friday 04:00 in China: days are counted on Beijing time.
        (WorkCalendar(), datetime(2026, 4, 2, 20, 0, tzinfo=timezone.utc), at(4, 14, 4)),
    ],
)
def test_dna_request_counts_working_days(calendar, arrived, due):
    steps = due_steps(CaseSnapshot(arrived_at=arrived), arrived, calendar=calendar)
    (step,) = [s for s in steps if s.rule_code == "dna_request"]
    assert step.due_at == due
    assert not step.overdue
    late = due_steps(CaseSnapshot(arrived_at=arrived), due + timedelta(minutes=1), calendar=calendar)
    assert [s.overdue for s in late if s.rule_code == "dna_request"] == [True]


DILIGENT_STEPS = {
    "face_run": ARRIVED + H,
    "portal_posted": ARRIVED + 20 * H,
    "toutiao_pushed": ARRIVED + 30 * H,
    "dna_requested": at(4, 8, 9),
    "extension_approved": at(4, 12),
    "lead": at(4, 15),  # a new detail: a name of a village
    "portal_refreshed": at(4, 15, 15),
    "dna_result": at(5, 6),
    "interview_held": at(5, 5),
}


def test_diligent_case_after_35_days():
    case = CaseSnapshot(arrived_at=ARRIVED, steps=DILIGENT_STEPS, channels={c: "in_progress" for c in CHANNELS})
    steps = {s.rule_code: (s.due_at, s.done, s.overdue) for s in due_steps(case, ARRIVED + 35 * D, calendar=CAL)}
    assert steps == {
        "face_run": (at(4, 4), True, False),
        "portal_notice": (at(4, 4), True, False),
        "toutiao_push": (at(4, 5), True, False),
        "extension_approval": (at(4, 13), True, False),
        "dna_request": (at(4, 15), True, False),
        "portal_lead_update": (at(4, 16), True, False),
        # The push predates the lead, so it has not been updated since: overdue.
        "toutiao_lead_update": (at(4, 16), False, True),
        "dna_result": (at(5, 8, 9), True, False),
        "interview": (at(5, 12), False, False),  # repeats: 7 days after the last one
        "notice_refresh": (at(5, 15, 15), False, False),  # monthly from the last refresh
        "settlement_review": (at(7, 3), False, False),  # every channel tried: the review is ahead
    }


@pytest.mark.parametrize(
    "now, listed, overdue, eligible",
    [
        (at(6, 27), True, False, False),
        (at(7, 3), True, False, True),  # exactly 3 calendar months
        (ARRIVED + 95 * D, True, True, True),
    ],
)
def test_settlement_review_after_three_months_with_every_channel_tried(now, listed, overdue, eligible):
    case = CaseSnapshot(arrived_at=ARRIVED, channels={**TRIED, "newspaper": "not_applicable"})
    review = [s for s in due_steps(case, now, calendar=CAL) if s.rule_code == "settlement_review"]
    assert [(s.due_at, s.overdue) for s in review] == ([(at(7, 3), overdue)] if listed else [])
    assert settlement_eligible(case, now, calendar=CAL) is eligible


@pytest.mark.parametrize(
    "channels, identity, state, eligible",
    [
        ({**TRIED, "dna": "not_started"}, "unknown", "in_station", False),
        (TRIED, "self_reported", "in_station", True),  # a name told but not verified is not an identity
        (TRIED, "confirmed", "in_station", False),
        (TRIED, "unknown", "in_hospital", True),
        (TRIED, "unknown", "settled", False),
    ],
)
def test_settlement_eligibility_conditions(channels, identity, state, eligible):
    case = CaseSnapshot(arrived_at=ARRIVED, channels=channels, identity_status=identity, state=state)
    assert settlement_eligible(case, ARRIVED + 95 * D, calendar=CAL) is eligible


@pytest.mark.parametrize(
    "now, expected",
    [
        (ARRIVED + 23 * H, [("dna_request", False), ("face_run", False), ("minor_notice_approval", False),
                            ("portal_notice", False)]),
        (ARRIVED + 25 * H, [("dna_request", True), ("face_run", True), ("minor_notice_approval", True),
                            ("portal_notice", True), ("toutiao_push", False)]),
    ],
)
def test_minors_dna_at_once_and_notice_approval(now, expected):
    minor = CaseSnapshot(arrived_at=ARRIVED, is_minor=True, categories=frozenset({"minor"}))
    assert table(minor, now)[: len(expected)] == expected
    assert {s.rule_code: s.due_at for s in due_steps(minor, now, calendar=CAL)}["dna_request"] == ARRIVED + 24 * H


@pytest.mark.parametrize(
    "state, now, expected",
    [
        ("in_station", at(4, 7), [("family_contact", True), ("return_arranged", False), ("extension_approval", False)]),
        ("in_station", at(4, 9), [("family_contact", True), ("return_arranged", True), ("extension_approval", False)]),
        ("in_hospital", at(4, 9), [("family_contact", True), ("extension_approval", False)]),  # health first
    ],
)
def test_identified_case_only_owes_the_return(state, now, expected):
    case = CaseSnapshot(arrived_at=ARRIVED, identity_status="confirmed", state=state,
                        steps={"identity_confirmed": at(4, 5)})
    assert table(case, now) == expected


def test_identified_case_with_family_contacted():
    case = CaseSnapshot(arrived_at=ARRIVED, identity_status="confirmed",
                        steps={"identity_confirmed": at(4, 5), "family_contacted": at(4, 5, 16)})
    steps = due_steps(case, at(4, 7), calendar=CAL)
    assert [(s.rule_code, s.done, s.done_at) for s in steps][:2] == [
        ("family_contact", True, at(4, 5, 16)), ("return_arranged", False, None)]


@pytest.mark.parametrize(
    "state, expected",
    [
        ("returned", []), ("left", []), ("in_medical_care", []), ("deceased", []),
        # The search stays open after settlement and transfer: notices and the DNA result are still owed.
        ("settled", [("notice_refresh", True), ("dna_result", True)]),
        ("transferred", [("notice_refresh", True), ("dna_result", True)]),
    ],
)
def test_closed_cases_owe_nothing_but_an_open_search(state, expected):
    case = CaseSnapshot(arrived_at=ARRIVED, state=state, steps={"dna_requested": at(4, 8)})
    assert table(case, ARRIVED + 95 * D) == expected


def test_not_applicable_channels_are_left_out():
    case = CaseSnapshot(arrived_at=ARRIVED, channels={"dna": "not_applicable", "toutiao": "not_applicable"})
    codes = {s.rule_code for s in due_steps(case, ARRIVED + 25 * H, calendar=CAL)}
    assert codes == {"face_run", "portal_notice", "interview", "extension_approval", "notice_refresh"}


def test_next_due_by_channel():
    nearest = next_due_by_channel(due_steps(NEGLECTED, ARRIVED + 25 * H, calendar=CAL))
    assert {c: (s.rule_code, s.overdue) for c, s in nearest.items()} == {
        "face": ("face_run", True), "portal": ("portal_notice", True), "toutiao": ("toutiao_push", False),
        "interview": ("interview", False), "dna": ("dna_request", False),
    }


@pytest.mark.parametrize(
    "now, days, stranded, extension",
    [
        (ARRIVED, 0, False, False),
        (ARRIVED + 23 * H, 0, False, False),
        (ARRIVED + 25 * H, 1, False, False),
        (ARRIVED + 10 * D, 10, False, False),  # "more than 10 days"
        (ARRIVED + 10 * D + timedelta(minutes=1), 10, True, True),
        (ARRIVED + 11 * D, 11, True, True),
        (ARRIVED - H, 0, False, False),  # a clock slightly behind never gives negative days
    ],
)
def test_stranded_and_extension(now, days, stranded, extension):
    assert days_stranded(ARRIVED, now) == days
    assert is_stranded(NEGLECTED, now, calendar=CAL) is stranded
    assert extension_required(NEGLECTED, now, calendar=CAL) is extension


def test_extension_approved_or_identified():
    later = ARRIVED + 11 * D
    approved = CaseSnapshot(arrived_at=ARRIVED, steps={"extension_approved": at(4, 12)})
    identified = CaseSnapshot(arrived_at=ARRIVED, identity_status="confirmed")
    assert (extension_required(approved, later), is_stranded(approved, later)) == (False, True)
    assert (extension_required(identified, later), is_stranded(identified, later)) == (True, False)
    assert is_stranded(CaseSnapshot(arrived_at=ARRIVED, state="returned"), later) is False


def test_override_disables_a_rule_and_changes_offsets():
    rules = effective_rules({
        "toutiao_push": {"enabled": False},
        "portal_notice": {"offset": "12h"},
        "dna_request": {"offset": "10wd"},
        "extension_approval": {"offset": "15d"},
    })
    due = {s.rule_code: (s.due_at, s.overdue) for s in due_steps(NEGLECTED, ARRIVED + 25 * H, rules, CAL)}
    assert "toutiao_push" not in due
    assert due["portal_notice"] == (ARRIVED + 12 * H, True)
    assert due["dna_request"] == (at(4, 20), False)
    assert is_stranded(NEGLECTED, ARRIVED + 11 * D, rules, CAL) is False  # the limit moved to 15 days
    assert [r.code for r in rules] == [r.code for r in DEFAULT_RULES]  # disabled rules stay listed for the admin page


def test_override_of_a_repeat_and_of_the_minors_deadline():
    rules = effective_rules({"interview": {"every": "14d"}, "dna_request": {"minor_offset": None}})
    case = CaseSnapshot(arrived_at=ARRIVED, is_minor=True, steps={"interview_held": at(4, 9)})
    due = {s.rule_code: s.due_at for s in due_steps(case, ARRIVED + 25 * H, rules, CAL)}
    assert due["interview"] == at(4, 23)
    assert due["dna_request"] == at(4, 15)  # the minors' 24 h switched off: back to 7 working days


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"portal_notcie": {"enabled": False}}, "portal_notcie", "unknown rule"),
        ({"portal_notice": {"offset": "24 hours"}}, "portal_notice.offset", "not a duration"),
        ({"portal_notice": {"offset": 24}}, "portal_notice.offset", "not a duration"),
        ({"portal_notice": {"offset": "-1d"}}, "portal_notice.offset", "not a duration"),
        ({"portal_notice": {"enabled": "no"}}, "portal_notice.enabled", "true or false"),
        ({"portal_notice": {"every": "1d"}}, "portal_notice.every", "does not repeat"),
        ({"interview": {"every": "0d"}}, "interview.every", "longer than 0"),
        ({"interview": {"every": None}}, "interview.every", "not a duration"),
        ({"portal_notice": {"colour": "red"}}, "portal_notice.colour", "not a setting"),
        ({"portal_notice": "off"}, "portal_notice", "an object of settings"),
        (["portal_notice"], "rules", "keyed by rule code"),
    ],
)
def test_invalid_overrides_are_refused(overrides, field, message):
    with pytest.raises(InvalidRuleOverride, match=message) as err:
        effective_rules(overrides)
    assert err.value.field == field and isinstance(err.value, InvalidValue)


def test_overrides_round_trip_through_json():
    overrides = {"portal_notice": {"offset": "12h"}, "toutiao_push": {"enabled": False}}
    text = dump_overrides(overrides)
    assert text == '{"portal_notice": {"offset": "12h"}, "toutiao_push": {"enabled": false}}'
    assert load_overrides(text) == overrides
    assert load_overrides(None) == {} and load_overrides("") == {}
    with pytest.raises(InvalidRuleOverride, match="not valid JSON"):
        load_overrides("{portal")
    with pytest.raises(InvalidRuleOverride, match="unknown rule"):
        load_overrides('{"nope": {}}')
    with pytest.raises(InvalidRuleOverride):
        dump_overrides({"portal_notice": {"offset": "soon"}})


def test_describe_a_rule_for_the_admin_page():
    dna = next(r for r in DEFAULT_RULES if r.code == "dna_request")
    assert describe(dna) == {
        "code": "dna_request", "description": "DNA sample requested from the police", "channel": "dna",
        "anchor": "arrival", "offset": "7wd", "every": None, "starts": None, "minor_offset": "24h",
        "when": ["unidentified"], "states": ["in_station", "in_hospital"], "done_by": ["dna_requested"],
        "enabled": True,
    }


@pytest.mark.parametrize(
    "text, span, back",
    [("24h", Span(24, "hours"), "24h"), ("7wd", Span(7, "working_days"), "7wd"), ("1mo", Span(1, "months"), "1mo"),
     ("0h", Span(0, "hours"), "0h")],
)
def test_span_parse_and_print(text, span, back):
    assert Span.parse(text) == span and str(span) == back


@pytest.mark.parametrize(
    "start, span, end",
    [
        (datetime(2026, 1, 31, 10, tzinfo=CST), "1mo", datetime(2026, 2, 28, 10, tzinfo=CST)),  # clamped to month end
        (datetime(2026, 11, 30, 10, tzinfo=CST), "3mo", datetime(2027, 2, 28, 10, tzinfo=CST)),
        (datetime(2026, 4, 3, 10, tzinfo=CST), "0wd", datetime(2026, 4, 3, 10, tzinfo=CST)),
        (datetime(2026, 4, 10, 10, tzinfo=CST), "1wd", datetime(2026, 4, 11, 10, tzinfo=CST)),  # make-up Saturday
    ],
)
def test_calendar_arithmetic(start, span, end):
    assert CAL.add(start, Span.parse(span)) == end


def test_calendar_json():
    data = CAL.as_json()
    assert data == {"holidays": ["2026-04-06", "2026-04-07"], "workdays": ["2026-04-11"]}
    assert WorkCalendar.from_json(data) == CAL
    with pytest.raises(InvalidValue, match="both a holiday and a working day"):
        WorkCalendar.from_json({"holidays": ["2026-04-11"], "workdays": ["2026-04-11"]})
    with pytest.raises(InvalidValue, match="YYYY-MM-DD"):
        WorkCalendar.from_json({"holidays": ["11 April"]})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"arrived_at": ARRIVED, "steps": {"portal_post": ARRIVED}}, "unknown step or channel: portal_post"),
        ({"arrived_at": ARRIVED, "channels": {"radio": "in_progress"}}, "unknown step or channel: radio"),
        ({"arrived_at": datetime(2026, 4, 3, 10)}, "time zone"),
    ],
)
def test_snapshot_refuses_typos_and_naive_times(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CaseSnapshot(**kwargs)


def test_now_must_be_aware():
    with pytest.raises(ValueError, match="time zone"):
        due_steps(NEGLECTED, datetime(2026, 4, 3, 10))
