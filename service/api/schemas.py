"""JSON shapes of the API (API.md): what each role sees of a record."""
from __future__ import annotations

from datetime import date, datetime

from ..domain.identity import mask_id_number, mask_ids_in
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
    from ..matching.faces import shown_faces  # (the matching package loads the engine module: only when asked)

    return {
        "id": photo.id,
        "status": photo.status,
        "status_reason": photo.status_reason,
        "taken_on": iso(photo.taken_on),
        "width": photo.width,
        "height": photo.height,
        "url": f"/api/v1/photos/{photo.sha256}",
        "faces": [face_json(f) for f in shown_faces(photo.id)],
    }


def _masked_exit(details: dict | None) -> dict | None:
    if not details:
        return None
    if details.get("collector_id_number"):
        return {**details, "collector_id_number": mask_id_number(details["collector_id_number"])}
    return details


def case_json(case: Case, *, reveal_id: bool = False, brief: bool = False) -> dict:
    """The case as the API shows it. Unless `reveal_id`, the ID number and every ID-shaped number a clerk typed
    into free text (marks, description, notes, ...) are masked; the collector's ID number is always masked."""
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
        "identified_by_channel": case.identified_by_channel,
    }
    for field in PERSON_FIELDS if not brief else ("name", "gender", "age_min", "age_max", "categories", "found_place"):
        body[field] = iso(getattr(case, field))
    body["photos"] = [photo_json(p) for p in case.photos]
    if not brief:
        from .family_search import channel_json as channel_view_json
        from ..services.family_search import channels_view

        body["channels"] = [channel_view_json(v) for v in channels_view(case)]
        body["exit_details"] = _masked_exit(case.exit_details)
        body["timeline"] = [
            {"at": iso(e.at), "kind": e.kind, "data": e.data, "user_id": e.user_id} for e in case.events
        ]
    if not reveal_id:
        body = mask_ids_in(body)
    body["id_number"] = (case.id_number if reveal_id else mask_id_number(case.id_number)) or None
    return body


def face_json(face) -> dict:
    return {
        "id": face.id,
        "box": face.box,
        "det_score": face.det_score,
        "quality_ok": face.quality_ok,
        "quality_reason": face.quality_reason,
        "selected": face.selected,
        "choice": face.choice,  # only | auto (chosen automatically) | staff | plausible | low_quality
        "face_index": face.face_index,
        "crop_url": f"/api/v1/crops/{face.crop_sha256}" if face.crop_sha256 and face.template_id is not None else None,
    }


def report_json(report, brief: bool = False) -> dict:
    body = {
        "id": report.id,
        "status": report.status,
        "source": report.source,
        "external_id": report.external_id,
        "name": report.name,
        "gender": report.gender,
        "birth_date": iso(report.birth_date),
        "age_at_missing": report.age_at_missing,
        "missing_since": iso(report.missing_since),
        "missing_place": report.missing_place,
        "hometown": report.hometown,
        "matching_status": report.matching_status,
        "found_case_id": report.found_case_id,
        "created_at": iso(report.created_at),
    }
    if not brief:
        body.update(
            marks=report.marks,
            description=report.description,
            contact_name=report.contact_name,
            contact_phone=report.contact_phone,
            extra=report.extra or {},
            photos=[photo_json(p) for p in report.photos],
        )
    # A family's or a clerk's free text may carry someone's ID number: masked like a case's (no reveal here).
    return mask_ids_in(body)


def candidate_json(row, seen_from: str = "case") -> dict:
    body = {
        "id": row.id,
        "kind": row.kind,
        "case_id": row.case_id,
        "face_distance": None if row.face_distance is None else round(row.face_distance, 4),
        # Interview clues against the report (kind `description`, or a face pair both channels saw).
        "description_score": None if row.description_score is None else round(row.description_score, 4),
        "description_evidence": mask_ids_in(row.description_evidence) if row.description_evidence else None,
        "score": round(row.score, 4),
        "band": row.band,
        "status": row.status,
        "engine": row.engine,
        # The evidence quotes both sides' free text (marks, places): ID-shaped numbers in it stay masked here.
        "evidence": mask_ids_in(row.evidence or {}),
        "note": mask_ids_in(row.note),
        "decided_at": iso(row.decided_at),
        # Which face of each photo matched (a photo searched with several faces labels each candidate).
        "case_face_id": row.case_face_id,
        "other_face_id": row.other_face_id,
    }
    if row.kind in ("gallery", "description"):
        body["report_id"] = row.report_id
    else:
        body["other_case_id"] = row.other_case_id
    return body
