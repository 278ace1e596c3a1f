"""Register an arrival (入站登记): validate everything, commit once, then queue the photos."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..domain.channels import CHANNELS
from ..domain.errors import Conflict, InvalidValue
from ..domain.intake import derived_categories, validate_age_range
from ..domain.lifecycle import OPEN_STATES
from ..extensions import db
from ..models import Case, CaseEvent, Photo, SearchChannel, Station, User
from ..models.types import utcnow
from . import audit
from ..formats.fields import parse_case_fields
from .queueing import queue_photos
from ..media import EXTENSIONS, CheckedPhoto, PhotoRejected, check_photo, media_path, store

log = logging.getLogger(__name__)


class StorageFull(PhotoRejected):
    """The media disk refused the write: nothing of the registration is kept."""

    def __init__(self, message: str):
        super().__init__("storage_unavailable", message, 507)


@dataclass
class Registration:
    case: Case
    created: bool  # False when the idempotency key named an existing case
    queued: bool  # every photo message reached the broker


@dataclass(frozen=True)
class Upload:
    filename: str | None
    data: bytes


def check_uploads(uploads: list[Upload], settings) -> list[CheckedPhoto]:
    """Validate every photo before anything is written; the first bad one rejects the request."""
    return [
        check_photo(
            u.data,
            max_bytes=settings.max_photo_bytes,
            max_megapixels=settings.max_megapixels,
            filename=u.filename,
        )
        for u in uploads
    ]


def _resolve_station(actor: User, station_code: str | None) -> Station:
    if station_code and actor.role == "admin":
        station = db.session.scalar(select(Station).where(Station.code == station_code))
        if station is None:
            raise InvalidValue(f"no station with code {station_code}", "station_code")
        return station
    if actor.station is None:
        raise InvalidValue("this user belongs to no station; give station_code", "station_code")
    return actor.station


def apply_intake_rules(values: dict, on) -> dict:
    """Cross-field rules: age range order, ID number → birth date and sex, minor flag."""
    from ..domain.identity import parse_id_number

    if values.get("id_number"):
        rid = parse_id_number(values["id_number"])
        values.setdefault("birth_date", None)
        if values["birth_date"] is None:
            values["birth_date"] = rid.birth_date
        elif values["birth_date"] != rid.birth_date:
            raise InvalidValue("birth_date does not match the resident ID number", "birth_date")
        if values.get("gender") in (None, "unknown"):
            values["gender"] = rid.sex
        elif values["gender"] != rid.sex:
            raise InvalidValue("gender does not match the resident ID number", "gender")
    return values


def finish_person(case: Case, on) -> None:
    """What follows from the person's facts on day `on`: the age range checked, categories and the minor flag."""
    case.age_min, case.age_max = validate_age_range(case.age_min, case.age_max)
    case.categories = derived_categories(case.categories or [], case.birth_date, case.age_min, case.age_max, on)
    case.is_minor = "minor" in case.categories


def attach_photos(case: Case, photos: list[CheckedPhoto], actor: User, media_dir: Path) -> tuple[list[Photo], list[Path]]:
    """Write files (content-addressed) and add rows; returns the files this call created."""
    rows, written = [], []
    seen = {p.sha256 for p in case.photos}
    for checked in photos:
        if checked.sha256 in seen:  # the same picture twice: one row
            continue
        seen.add(checked.sha256)
        try:
            path, new = store(media_dir, checked.sha256, EXTENSIONS[checked.mime], checked.data)
        except OSError as exc:
            for p in written:
                p.unlink(missing_ok=True)
            raise StorageFull(f"photo storage is unavailable ({exc.strerror or exc}); nothing was saved") from exc
        if new:
            written.append(path)
        row = Photo(
            sha256=checked.sha256,
            mime=checked.mime,
            size_bytes=len(checked.data),
            width=checked.width,
            height=checked.height,
            status="pending",
            uploaded_by_id=actor.id,
            queued_at=utcnow(),
            meta={"filename": checked.filename} if checked.filename else None,
        )
        case.photos.append(row)
        rows.append(row)
    return rows, written


LEAD_KEY_PREFIX = "lead:"  # arrivals registered from a street lead (services.leads): never a client's key


@dataclass
class NewArrival:
    """A case built in the session by `build_arrival`, for its caller to commit."""

    case: Case
    photos: list[Photo]  # the photos uploaded with it: queued for processing after the commit
    written: list[Path]  # files this request created: deleted again if the transaction fails


def register_arrival(
    actor: User,
    raw_fields: dict,
    uploads: list[Upload],
    settings,
    idempotency_key: str | None = None,
    ip: str | None = None,
) -> Registration:
    """Create a case with its photos and six channels in one transaction, then queue the photos."""
    key = (idempotency_key or "").strip()[:64] or None
    if key and key.startswith(LEAD_KEY_PREFIX):
        raise InvalidValue("this idempotency key is reserved", "idempotency_key")
    if key:
        existing = replayed_case(actor, key)
        if existing is not None:
            return Registration(existing, created=False, queued=True)
    try:
        arrival = build_arrival(actor, raw_fields, uploads, settings, key, ip)
        commit_discarding(arrival.written)
    except IntegrityError:
        if key:  # a concurrent double submit won the race: answer with its case
            existing = replayed_case(actor, key)
            if existing is not None:
                return Registration(existing, created=False, queued=True)
        raise
    log.info("event=case_registered case_id=%s photos=%s", arrival.case.id, len(arrival.photos))
    queued = queue_photos([p.id for p in arrival.photos])
    if arrival.photos and queued:  # the broker just took the photos: description candidates too (else the sweep)
        from .clues import queue_case

        queue_case(arrival.case.id)
    return Registration(arrival.case, created=True, queued=queued)


def build_arrival(actor: User, raw_fields: dict, uploads: list[Upload], settings, idempotency_key: str | None = None,
                  ip: str | None = None, handed_over: Sequence[Photo] = ()) -> NewArrival:
    """Validate an arrival and add it to the session: the case, its six channels, its photos, timeline and audit.

    `handed_over` are photos already kept (a street lead's, processed or still pending) that change hands
    as they are: they join the case without being stored or processed again. Nothing is committed; on an error the session is rolled back
    and the files this call wrote are deleted.
    """
    values = parse_case_fields(raw_fields)
    start_state = (raw_fields.get("state") or "in_station").strip()
    if start_state not in OPEN_STATES:
        raise InvalidValue(f"state at intake must be one of: {', '.join(OPEN_STATES)}", "state")
    checked = check_uploads(uploads, settings)
    now = utcnow()
    values = apply_intake_rules(values, now.date())
    station = _resolve_station(actor, (raw_fields.get("station_code") or "").strip() or None)

    case = Case(
        station_id=station.id,
        state=start_state,
        identity_status="unknown",
        arrived_at=now,
        idempotency_key=idempotency_key,
        created_by_id=actor.id,
        categories=[],
        gender="unknown",
        matching_status="pending",
    )
    for field, value in values.items():
        setattr(case, field, value)
    if case.gender is None:
        case.gender = "unknown"
    if case.name:
        case.identity_status = "self_reported"
    finish_person(case, now.date())
    db.session.add(case)
    for photo in handed_over:
        case.photos.append(photo)
    try:
        photos, written = attach_photos(case, checked, actor, settings.media_dir)
    except StorageFull:  # the case is in the session: a later commit in this request must not save it
        db.session.rollback()
        raise
    count = len(case.photos)
    case.matching_status = "pending" if count else "done"
    for channel in CHANNELS:
        status = "in_progress" if channel == "face" and count else "not_started"
        case.channels.append(SearchChannel(channel=channel, status=status))
    try:
        db.session.flush()
        case.case_no = f"{station.code}-{now:%Y%m%d}-{case.id:06d}"
        case.events.append(CaseEvent(kind="registered", user_id=actor.id, data={"photos": count, "state": start_state}))
        audit.record(actor.id, "case.create", "case", case.id, {"photos": count}, ip)
    except BaseException:
        rollback_discarding(written)
        raise
    return NewArrival(case, photos, written)


def replayed_case(actor: User, key: str) -> Case | None:
    """The case an earlier submit with this key made; another station's case is a conflict, never shown."""
    existing = db.session.scalar(select(Case).where(Case.idempotency_key == key))
    if existing is not None and actor.role != "admin" and existing.station_id != actor.station_id:
        raise Conflict("this idempotency key was used for another registration", "idempotency_key")
    return existing


def commit_discarding(written: list[Path]) -> None:
    """Commit; when that fails, roll back and delete the files this request wrote that no committed photo uses."""
    try:
        db.session.commit()
    except BaseException:
        rollback_discarding(written)
        raise


def rollback_discarding(written: list[Path]) -> None:
    """Roll back, and delete the files this request wrote that no committed photo uses."""
    db.session.rollback()
    for path in written:
        if not file_in_use(path):
            path.unlink(missing_ok=True)


def file_in_use(path: Path) -> bool:
    sha = path.stem
    return db.session.scalar(select(Photo.id).where(Photo.sha256 == sha).limit(1)) is not None


def add_photos(actor: User, case: Case, uploads: list[Upload], settings, ip: str | None = None) -> tuple[list[Photo], bool]:
    """More photos for an existing case (a better frontal shot taken later)."""
    checked = check_uploads(uploads, settings)
    try:
        photos, written = attach_photos(case, checked, actor, settings.media_dir)
    except StorageFull:  # photo rows without files are in the session: drop them
        db.session.rollback()
        raise
    if not photos:
        return [], True
    try:
        db.session.flush()
        case.events.append(CaseEvent(kind="photos_added", user_id=actor.id, data={"photos": [p.id for p in photos]}))
        case.matching_status = "pending"
        audit.record(actor.id, "case.photos_add", "case", case.id, {"photos": len(photos)}, ip)
        db.session.commit()
    except BaseException:
        rollback_discarding(written)
        raise
    return photos, queue_photos([p.id for p in photos])


def photo_file(media_dir: Path, photo: Photo, normalized: bool = True) -> Path:
    """The file to show: the normalised JPEG once processed, else the original upload."""
    if normalized and photo.normalized_sha256:
        return media_path(media_dir, photo.normalized_sha256, "jpg")
    return media_path(media_dir, photo.sha256, EXTENSIONS[photo.mime])
