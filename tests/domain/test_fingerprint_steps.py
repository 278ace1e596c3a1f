"""The police fingerprint check is a recorded step of identity checking, like the DNA steps."""
import pytest

from service.domain.channels import InvalidStep, STEP_FIELDS, STEP_KEYS, validate_step


def test_fingerprint_request_and_result_are_dna_channel_steps():
    assert {"dna_fingerprint_requested", "dna_fingerprint_result"} <= set(STEP_KEYS)
    assert validate_step("dna", {"kind": "fingerprint_requested", "police_office": "河西公安分局"}) == {
        "kind": "fingerprint_requested", "police_office": "河西公安分局"}
    assert validate_step("dna", {"kind": "fingerprint_result", "result": "match", "police_record": "ZW-2026-17"})[
        "result"] == "match"
    assert "police_record" in STEP_FIELDS["dna"]


def test_a_fingerprint_result_must_say_match_or_not():
    with pytest.raises(InvalidStep, match="result"):
        validate_step("dna", {"kind": "fingerprint_result"})
    with pytest.raises(InvalidStep, match="must be one of"):
        validate_step("dna", {"kind": "fingerprint_result", "result": "maybe"})
