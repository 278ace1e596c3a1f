"""Nothing is handed to an unverified family: the verification a pickup or escort home needs."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from service.domain.errors import Forbidden
from service.domain.handover import (
    HandoverNotVerified,
    InvalidVerification,
    Verification,
    check_approval,
    check_evidence,
    check_handover,
    latest,
    verified,
)
from service.domain.lifecycle import ExitFacts, apply_exit

CST = timezone(timedelta(hours=8))
ARRIVED = datetime(2026, 11, 2, 9, 0, tzinfo=CST)
ADULT = ExitFacts(state="in_station", actor_role="staff", arrived_at=ARRIVED, now=ARRIVED + timedelta(days=3),
                  age_min=35, age_max=45)
CHILD = replace(ADULT, age_min=12, age_max=14, categories=frozenset({"minor"}), identity_status="confirmed")
COLLECTOR = {"collector_name": "王建国", "collector_id_number": "11010519491231002X", "relation": "father"}
ESCORT = {"destination": "河南省周口市", "receiving_office": "周口市救助站", "handover_person": "李四"}


@pytest.mark.parametrize("exit_type, details", [("family_pickup", COLLECTOR), ("escorted_home", ESCORT)])
def test_family_exits_need_a_verification(exit_type, details):
    with pytest.raises(HandoverNotVerified, match="no verification of the family"):
        apply_exit(ADULT, exit_type, details)
    ok = replace(ADULT, verification=Verification(frozenset({"video_call"}), checked_by_id=7))
    assert apply_exit(ok, exit_type, details) == "returned"


def test_other_exits_need_none():
    assert apply_exit(ADULT, "self_return", {"destination": "周口"}) == "returned"
    assert apply_exit(ADULT, "left_voluntarily", {}) == "left"


def test_a_withdrawn_verification_does_not_count():
    gone = Verification(frozenset({"id_check"}), checked_by_id=7, revoked=True)
    assert latest([gone]) is None
    with pytest.raises(HandoverNotVerified):
        check_handover("family_pickup", gone, minor=False)


def test_a_minor_needs_strong_evidence_and_a_supervisor():
    weak = Verification(frozenset({"id_check", "video_call"}), checked_by_id=7)
    assert "DNA or police" in verified(weak, minor=True)
    strong = Verification(frozenset({"dna_match", "id_check"}), checked_by_id=7)
    assert "supervisor" in verified(strong, minor=True)
    with pytest.raises(HandoverNotVerified, match="supervisor's approval"):
        apply_exit(replace(CHILD, verification=strong), "family_pickup", COLLECTOR)
    approved = replace(strong, approved_by_id=9)
    assert apply_exit(replace(CHILD, verification=approved), "family_pickup", COLLECTOR) == "returned"
    assert verified(approved, minor=False) is None


def test_evidence_is_checked_when_recorded():
    assert check_evidence(["dna_match", "id_check"], minor=True) == {"dna_match", "id_check"}
    with pytest.raises(InvalidVerification, match="name the evidence"):
        check_evidence([], minor=False)
    with pytest.raises(InvalidVerification, match="unknown evidence: palm_reading"):
        check_evidence(["palm_reading"], minor=False)
    with pytest.raises(InvalidVerification, match="DNA match or the police"):
        check_evidence(["id_check", "video_call", "family_photos"], minor=True)
    with pytest.raises(InvalidVerification, match="each evidence kind is a word"):
        check_evidence([[None, None]], minor=False)  # found by the API fuzzer: was a 500


def test_the_approver_is_a_supervisor_other_than_the_checker():
    v = Verification(frozenset({"dna_match", "id_check"}), checked_by_id=7)
    with pytest.raises(Forbidden, match="needs a supervisor"):
        check_approval(False, 9, v)
    with pytest.raises(Forbidden, match="not the person who checked"):
        check_approval(True, 7, v)
    check_approval(True, 9, v)
