"""Face data rules as data: the legal basis and purpose of each enrolment, and who counts as one person.

Sources: 个人信息保护法 (PIPL) Arts 13, 28, 29, 31; 未成年人保护法 Arts 92–94; 国务院令第381号;
人脸识别技术应用安全管理办法 (in force 2025-06-01: record of processing, impact assessment, filing once
100,000 people are stored). A new basis or purpose is one entry here.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

MINOR_AGE = 18

# code -> (short label, the rule it rests on). Labels are translated in the pages (web/privacy.py).
LEGAL_BASES: dict[str, tuple[str, str]] = {
    "statutory_duty": ("Station's statutory duty",
                       "PIPL Art. 13(1)(3); State Council Decree 381 and its implementing rules"),
    "guardian_duty": ("Station acting as temporary guardian of a minor",
                      "Minors Protection Law Arts 92–94; PIPL Arts 13(1)(3), 31"),
    "family_consent": ("Separate consent of the reporting family",
                       "PIPL Arts 13(1)(1), 29"),
    "guardian_consent": ("Consent of the parent or guardian reporting a missing minor",
                         "PIPL Arts 29, 31"),
}

# code -> label: why the face is compared at all.
PURPOSES: dict[str, str] = {
    "identify_arrival": "Identify a stranded person and find their family",
    "find_missing": "Find a reported missing person among arrivals",
    "street_check": "Tell staff whether a person seen on the street is known",
}

OWNER_PURPOSE = {"case": "identify_arrival", "report": "find_missing", "lead": "street_check"}


@dataclass(frozen=True)
class Basis:
    basis: str
    purpose: str
    minor: bool


def basis_for(kind: str, minor: bool, source: str | None = None) -> Basis:
    """Arrivals and street leads: the station's duty (its guardianship for minors). Reports: the reporting
    family's consent (the guardian's for minors), or the police's duty when the police filed it."""
    purpose = OWNER_PURPOSE[kind]
    if kind in ("case", "lead"):
        return Basis("guardian_duty" if minor else "statutory_duty", purpose, minor)
    if minor:
        return Basis("guardian_consent", purpose, True)
    return Basis("statutory_duty" if source == "police" else "family_consent", purpose, False)


def report_is_minor(today: date, birth_date: date | None, age_at_missing: int | None,
                    missing_since: date | None) -> bool:
    """Protective reading, as at intake: a report whose person may still be under 18 is a minor's."""
    if birth_date is not None:
        years = today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))
        return years < MINOR_AGE
    if age_at_missing is None:
        return False
    elapsed = (today - missing_since).days // 365 if missing_since is not None else 0
    return age_at_missing + max(elapsed, 0) < MINOR_AGE


def distinct_people(records: int, same_person: Iterable[tuple[tuple[str, int], tuple[str, int]]]) -> int:
    """Records with templates, counting once the records known to be one person (a confirmed match, a lead
    that became the arrival; both ends enrolled): the number the filing threshold is about."""
    parent: dict[tuple[str, int], tuple[str, int]] = {}

    def root(node):
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    merged = 0
    for a, b in same_person:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[ra] = rb
            merged += 1
    return records - merged
