"""Family-search channels: status changes and what a step records."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from service.domain.channels import (
    CHANNELS,
    STATUSES,
    STEP_FIELDS,
    STEP_KEYS,
    TRANSITIONS,
    IllegalChannelTransition,
    InvalidStep,
    NoticeNeedsApproval,
    all_channels_tried,
    apply_channel_event,
    check_notice_allowed,
    validate_step,
)
from service.domain.errors import Conflict, Forbidden, InvalidValue

CST = timezone(timedelta(hours=8))


def test_tables_are_complete():
    assert set(TRANSITIONS) == set(STATUSES) and set(STEP_FIELDS) == set(CHANNELS)
    assert STEP_FIELDS["portal"] == ["post_id", "url"]
    assert STEP_FIELDS["toutiao"] == ["area", "pushed_at", "radius_km"]
    assert "dna_requested" in STEP_KEYS and "interview_held" in STEP_KEYS


@pytest.mark.parametrize(
    "current, new, reason, role",
    [
        ("not_started", "in_progress", None, "staff"),
        ("in_progress", "lead", None, "staff"),
        ("lead", "confirmed", None, "staff"),
        ("lead", "in_progress", None, "staff"),  # the lead did not pan out
        ("in_progress", "no_result", None, "staff"),
        ("no_result", "in_progress", None, "staff"),  # searches repeat
        ("not_started", "not_applicable", "身份证明确，无需DNA", "staff"),
        ("not_applicable", "in_progress", None, "staff"),
        ("in_progress", "in_progress", None, "staff"),  # another step logged
        ("confirmed", "confirmed", None, "staff"),
        ("confirmed", "in_progress", "家属否认", "supervisor"),
        ("confirmed", "lead", "复核", "admin"),
    ],
)
def test_allowed_channel_events(current, new, reason, role):
    assert apply_channel_event(current, new, reason, actor_role=role) == new


@pytest.mark.parametrize(
    "current, new, reason, role, error, message",
    [
        ("not_started", "confirmed", None, "staff", IllegalChannelTransition, "from not_started to confirmed"),
        ("not_started", "no_result", None, "staff", IllegalChannelTransition,
         "allowed: in_progress, lead, not_applicable"),
        ("confirmed", "no_result", "x", "supervisor", IllegalChannelTransition, "allowed: in_progress, lead"),
        ("confirmed", "in_progress", "家属否认", "staff", Forbidden, "needs a supervisor"),
        ("confirmed", "in_progress", "  ", "supervisor", InvalidStep, "needs a reason"),
        ("in_progress", "not_applicable", None, "staff", InvalidStep, "not_applicable needs a reason"),
        ("in_progress", "finished", None, "staff", InvalidStep, "unknown channel status"),
    ],
)
def test_refused_channel_events(current, new, reason, role, error, message):
    with pytest.raises(error, match=message):
        apply_channel_event(current, new, reason, actor_role=role)


def test_illegal_change_is_a_conflict_and_missing_reason_an_invalid_value():
    with pytest.raises(Conflict):
        apply_channel_event("confirmed", "no_result")
    with pytest.raises(InvalidValue) as err:
        apply_channel_event("in_progress", "not_applicable", "")
    assert err.value.field == "reason"


@pytest.mark.parametrize(
    "channel, minor, approved, refused",
    [("portal", True, False, True), ("toutiao", True, False, True), ("newspaper", True, True, False),
     ("portal", False, False, False), ("dna", True, False, False)],
)
def test_public_notices_of_minors_need_approval(channel, minor, approved, refused):
    if refused:
        with pytest.raises(NoticeNeedsApproval, match="needs a supervisor's approval"):
            check_notice_allowed(channel, minor, approved)
    else:
        assert check_notice_allowed(channel, minor, approved) is None


@pytest.mark.parametrize(
    "statuses, tried",
    [
        ({c: "in_progress" for c in CHANNELS}, True),
        ({**{c: "no_result" for c in CHANNELS}, "newspaper": "not_applicable"}, True),
        ({**{c: "no_result" for c in CHANNELS}, "newspaper": "not_started"}, False),
        ({c: "no_result" for c in CHANNELS if c != "face"}, False),  # a missing channel was never started
    ],
)
def test_all_channels_tried(statuses, tried):
    assert all_channels_tried(statuses) is tried


@pytest.mark.parametrize(
    "channel, fields, expected",
    [
        ("portal", {"kind": "posted", "post_id": " 2026-TJ-0042 ", "url": "https://www.zgszrkdak.cn/x/42"},
         {"kind": "posted", "post_id": "2026-TJ-0042", "url": "https://www.zgszrkdak.cn/x/42"}),
        ("toutiao", {"area": "天津西站周边", "radius_km": "5", "pushed_at": "2026-11-03T10:00:00+08:00"},
         {"kind": "pushed", "area": "天津西站周边", "radius_km": 5.0, "pushed_at": "2026-11-03T10:00:00+08:00"}),
        ("newspaper", {"paper": "今晚报", "published_on": date(2026, 11, 5), "note": "第8版"},
         {"kind": "published", "paper": "今晚报", "published_on": "2026-11-05", "note": "第8版"}),
        ("dna", {"kind": "requested"}, {"kind": "requested"}),
        ("dna", {"kind": "result", "result": "no_match", "sample_id": "TJ-S-9"},
         {"kind": "result", "result": "no_match", "sample_id": "TJ-S-9"}),
        ("face", {"kind": "reviewed", "candidate_id": 17, "decision": "rejected"},
         {"kind": "reviewed", "candidate_id": 17, "decision": "rejected"}),
        ("interview", {"notes": "提到“周口”和“老槐树”", "clue_places": "周口", "dialect": "河南话",
                       "pushed_at": None},
         None),  # pushed_at is a toutiao field: refused below
        ("interview", {"notes": "提到“周口”", "clue_places": "周口", "clue_names": ["小军", ""], "dialect": "河南话"},
         {"kind": "held", "notes": "提到“周口”", "clue_places": ["周口"], "clue_names": ["小军"], "dialect": "河南话"}),
    ],
)
def test_valid_steps(channel, fields, expected):
    if expected is None:
        with pytest.raises(InvalidStep):
            validate_step(channel, fields)
    else:
        assert validate_step(channel, fields) == expected


@pytest.mark.parametrize(
    "channel, fields, field, message",
    [
        ("portal", {"kind": "posted"}, "post_id", "must record post_id"),
        ("portal", {"post_id": "1"}, "kind", "portal steps are one of: posted, refreshed, withdrawn"),
        ("portal", {"kind": "posted", "post_id": "1", "url": "javascript:alert(1)"}, "url", "http"),
        ("toutiao", {"area": "西站", "radius_km": 0, "pushed_at": "2026-11-03T10:00:00+08:00"}, "radius_km", "positive"),
        ("toutiao", {"area": "西站", "radius_km": "nan", "pushed_at": "2026-11-03T10:00:00+08:00"}, "radius_km",
         "positive"),
        ("toutiao", {"area": "西站", "radius_km": 3, "pushed_at": "2026-11-03T10:00:00"}, "pushed_at", "time zone"),
        ("newspaper", {"paper": "今晚报", "published_on": "5 Nov"}, "published_on", "published_on"),
        ("dna", {"kind": "result", "result": "maybe"}, "result", "match, no_match"),
        ("face", {"kind": "reviewed", "candidate_id": "7.5", "decision": "confirmed"}, "candidate_id", "whole number"),
        ("face", {"kind": "run", "candidates": True}, "candidates", "number"),
        ("interview", {"notes": ""}, "notes", "must record notes"),
        ("interview", {"notes": "x", "password": "y"}, "password", "has no field password"),
        ("radio", {}, "channel", "unknown channel"),
    ],
)
def test_invalid_steps_name_the_field(channel, fields, field, message):
    with pytest.raises(InvalidStep, match=message) as err:
        validate_step(channel, fields)
    assert err.value.field == field and isinstance(err.value, InvalidValue)


def test_step_datetimes_keep_their_offset():
    pushed = datetime(2026, 11, 3, 2, 0, tzinfo=timezone.utc)
    cleaned = validate_step("toutiao", {"area": "西站", "radius_km": 3, "pushed_at": pushed})
    assert cleaned["pushed_at"] == "2026-11-03T02:00:00+00:00"
    assert datetime.fromisoformat(cleaned["pushed_at"]) == pushed.astimezone(CST)
