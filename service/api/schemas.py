"""JSON shapes of the API (API.md): what each role sees of a record."""
from __future__ import annotations

from datetime import date, datetime

from ..domain.identity import mask_id_number
from ..models import Case, Photo
from ..services.cases import days_stranded

PERSON_FIELDS = (
    "name", "gender", "birth_date", "age_min", "age_max", "household_place", "hometown_hint",
    "relatives_named", "height_cm", "build", "found_at", "found_place", "found_lat", "found_lng",
    "referral", "referring_officer", "referral_handover_no", "marks", "clothing", "dialect", "languages",
    "can_communicate", "mental_state", "health_notes", "vagrancy_history", "description", "categories",
    "accommodation_zone", "belongings",
)


def iso(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def photo_json(photo: Photo) -> dict:
    return {
        "id": photo.id,
        "status": photo.status,
        "status_reason": photo.status_reason,
        "width": photo.width,
        "height": photo.height,
        "url": f"/api/v1/photos/{photo.sha256}",
        "faces": [],
    }


def channel_json(channel) -> dict:
    return {
        "channel": channel.channel,
        "status": channel.status,
        "due_at": None,
        "overdue": False,
        "events": [
            {"at": iso(e.at), "status": e.status, "note": e.note, "reference": e.reference} for e in channel.events
        ],
    }


def case_json(case: Case, *, reveal_id: bool = False, brief: bool = False) -> dict:
    body = {
        "id": case.id,
        "case_no": case.case_no,
        "station": case.station.code if case.station else None,
        "state": case.state,
        "identity_status": case.identity_status,
        "is_minor": case.is_minor,
        "arrived_at": iso(case.arrived_at),
        "days_stranded": days_stranded(case),
        "matching_status": case.matching_status,
        "exit_type": case.exit_type,
        "closed_at": iso(case.closed_at),
    }
    for field in PERSON_FIELDS if not brief else ("name", "gender", "age_min", "age_max", "categories", "found_place"):
        body[field] = iso(getattr(case, field))
    body["id_number"] = (case.id_number if reveal_id else mask_id_number(case.id_number)) or None
    body["photos"] = [photo_json(p) for p in case.photos]
    if not brief:
        body["channels"] = [channel_json(c) for c in case.channels]
        body["timeline"] = [
            {"at": iso(e.at), "kind": e.kind, "data": e.data, "user_id": e.user_id} for e in case.events
        ]
    return body
