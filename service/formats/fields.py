"""The field specs: every field a form, an API body or an imported file may carry, with its converter.

The services validate with these; api/openapi.py derives the request schemas from them, so what is
documented is what is checked.
"""
from __future__ import annotations

from datetime import date

from ..domain import leads as lead_rules
from ..domain.channels import STATUSES as CHANNEL_STATUSES
from ..domain.errors import InvalidValue
from ..domain.fusion import DECISIONS
from ..domain.intake import CATEGORIES, GENDERS, REFERRALS
from ..domain.lifecycle import EXIT_DETAILS, EXIT_TYPES
from .values import Choice, Day, Flag, IdNumber, Number, Tags, Text, Timestamp, Whole, parse_fields

GENDER_ALIASES = {"m": "male", "男": "male", "男性": "male", "f": "female", "女": "female", "女性": "female",
                  # PFIF "other" has no place in our model: it is as good as unknown for matching.
                  "u": "unknown", "未知": "unknown", "不详": "unknown", "other": "unknown"}
REPORT_SOURCES = ("family", "police", "portal", "import")
SOURCE_ALIASES = {"家属": "family", "家人": "family", "公安": "police", "警方": "police", "寻亲网": "portal",
                  "导入": "import"}

# Everything a clerk may type at intake or correct later.
CASE_FIELDS = {
    "name": Text(80, "the name the person gives (not confirmed)"),
    "gender": Choice(GENDERS, GENDER_ALIASES),
    "birth_date": Day(),
    "age_min": Whole(0, 120, "estimated age, lower bound"),
    "age_max": Whole(0, 120, "estimated age, upper bound"),
    "id_number": IdNumber(),
    "household_place": Text(200, "registered household place (户籍地)"),
    "hometown_hint": Text(200, "hometown as the person tells it"),
    "relatives_named": Text(2000),
    "height_cm": Whole(30, 250),
    "build": Text(40),
    "found_at": Timestamp("when the person was found; without an offset: Beijing time"),
    "found_place": Text(200),
    "found_lat": Number(-90, 90),
    "found_lng": Number(-180, 180),
    "referral": Choice(REFERRALS, description="who brought the person in"),
    "referring_officer": Text(120),
    "referral_handover_no": Text(60),
    "marks": Text(2000, "distinguishing marks"),
    "clothing": Text(2000),
    "dialect": Text(80),
    "languages": Text(120),
    "can_communicate": Flag(),
    "mental_state": Text(2000),
    "health_notes": Text(4000),
    "vagrancy_history": Text(4000),
    "description": Text(4000),
    "categories": Tags(CATEGORIES),
    "accommodation_zone": Text(60),
    "belongings": Text(4000),
}

# A missing-person report, from the API and from imported files alike.
REPORT_FIELDS = {
    "name": Text(80),
    "gender": Choice(GENDERS, GENDER_ALIASES),
    "birth_date": Day(),
    "age_at_missing": Whole(0, 120),
    "missing_since": Day(),
    "missing_place": Text(200),
    "hometown": Text(200),
    "marks": Text(4000),
    "description": Text(4000),
    "contact_name": Text(80),
    "contact_phone": Text(40),
    "source": Choice(REPORT_SOURCES, SOURCE_ALIASES, "default: family (API), import (files)"),
    "external_id": Text(120, "the sender's id: the same (source, external_id) twice is one report"),
}

def parse_case_fields(raw: dict) -> dict:
    """Typed values for the known case fields present in `raw`; blank optional text becomes None."""
    return parse_fields(CASE_FIELDS, raw)


def parse_report_fields(raw: dict) -> dict:
    values = parse_fields(REPORT_FIELDS, raw)
    if values.get("birth_date") and values.get("missing_since") and values["missing_since"] < values["birth_date"]:
        raise InvalidValue("missing_since is before birth_date", "missing_since")
    return values


# Street work: a special campaign (寒潮/高温专项救助) and a patrol run; required fields are checked by the service.
CAMPAIGN_FIELDS = {
    "name": Text(120),
    "kind": Choice(lead_rules.CAMPAIGN_KINDS, description="default: other"),
    "starts_on": Day(date(2000, 1, 1), date(2100, 12, 31)),
    "ends_on": Day(date(2000, 1, 1), date(2100, 12, 31), "the last day, included"),
    "area": Text(200),
    "note": Text(2000),
}
PATROL_FIELDS = {
    "team": Text(80),
    "area": Text(200),
    "started_at": Timestamp("default: now"),
    "ended_at": Timestamp(),
    "people_contacted": Whole(0, 1000),
    "people_brought_in": Whole(0, 1000),
    "note": Text(2000),
}
# A street lead as a reporter's phone sends it (multipart form); services/leads.py validates with it (a GPS
# accuracy outside its bounds is brought to the bound there, not refused).
LEAD_FIELDS = {
    "source": Choice(lead_rules.SOURCES, description="staff only: a reporter's source is their account's"),
    "seen_at": Timestamp("within the last 7 days; default: now"),
    "place": Text(200, "typed place: required without lat/lng"),
    "description": Text(2000),
    "lat": Number(-90, 90),
    "lng": Number(-180, 180),
    "accuracy_m": Number(0, 100000),
    "urgency": Tags(lead_rules.URGENCY_FLAGS),
}

# A step on a search channel (its own `fields` are checked by domain.channels.validate_step, per channel and kind).
CHANNEL_STEP_FIELDS = {
    "status": Choice(CHANNEL_STATUSES, description="default: the channel's status now"),
    "note": Text(4000, "the reason, where the status needs one", cut=True),
    "reference": Text(200, cut=True),
}
# Leaving the station: the exit type and its handover record (what each type requires: domain.lifecycle).
EXIT_FIELDS = {
    "type": Choice(EXIT_TYPES),
    **{name: Text(500, cut=True) for name in EXIT_DETAILS},
}
# A person's decision on a candidate match.
REVIEW_FIELDS = {
    "decision": Choice(DECISIONS),
    "note": Text(2000, cut=True),
}
