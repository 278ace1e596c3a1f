"""Face data rules: legal basis per enrolment, minors in reports, distinct people."""
from __future__ import annotations

from datetime import date

import pytest

from service.domain.biometrics import LEGAL_BASES, PURPOSES, basis_for, distinct_people, report_is_minor


@pytest.mark.parametrize("kind, minor, source, basis, purpose", [
    ("case", False, None, "statutory_duty", "identify_arrival"),
    ("case", True, None, "guardian_duty", "identify_arrival"),
    ("lead", False, None, "statutory_duty", "street_check"),
    ("lead", True, None, "guardian_duty", "street_check"),
    ("report", False, "family", "family_consent", "find_missing"),
    ("report", False, "portal", "family_consent", "find_missing"),
    ("report", False, "police", "statutory_duty", "find_missing"),
    ("report", True, "family", "guardian_consent", "find_missing"),
    ("report", True, "police", "guardian_consent", "find_missing"),
])
def test_every_enrolment_has_a_basis_and_a_purpose(kind, minor, source, basis, purpose):
    got = basis_for(kind, minor, source)
    assert (got.basis, got.purpose, got.minor) == (basis, purpose, minor)
    assert got.basis in LEGAL_BASES and got.purpose in PURPOSES


def test_a_report_is_a_minors_while_the_person_may_still_be_under_18():
    today = date(2026, 12, 1)
    assert report_is_minor(today, date(2010, 1, 1), None, None)
    assert not report_is_minor(today, date(2000, 1, 1), 10, None)  # a birth date beats the age given
    assert report_is_minor(today, None, 12, date(2024, 6, 1))
    assert not report_is_minor(today, None, 12, date(2016, 6, 1))  # 12 then, 22 now
    assert report_is_minor(today, None, 15, None)
    assert not report_is_minor(today, None, None, None)


def test_records_known_to_be_one_person_count_once():
    links = [(("case", 1), ("report", 7)), (("lead", 3), ("case", 1)), (("case", 2), ("case", 1)), (("case", 1), ("report", 7))]
    assert distinct_people(10, links) == 7
    assert distinct_people(4, []) == 4
