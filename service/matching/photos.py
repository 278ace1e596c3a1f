"""Background processing of one photo: orient, normalise, record metadata (idempotent).

Called by the PROCESS_PHOTO task (service.tasking) with an id. Safe to run twice or concurrently:
the row lock and the `pending` check make the second run a no-op, and a photo that keeps
crashing its worker is marked `invalid` after MAX_ATTEMPTS instead of retried forever.
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select

from ..extensions import db
from ..models import CaseEvent, Photo
from ..models.types import utcnow
from ..media import EXTENSIONS, media_path, store
from . import candidates, faces
from .engine.errors import FaceImageError
from .engine.image import PHOTO_FORMATS, decode_photo, normalised_jpeg

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


@dataclass
class Outcome:
    photo_id: int
    result: str  # processed status, or "skipped" / "missing"


def lock_photo(photo_id: int) -> Photo | None:
    # populate_existing: a row locked after waiting must overwrite what this session loaded
    # earlier in the transaction, or a concurrent run's result would be invisible here.
    return db.session.scalar(
        select(Photo).where(Photo.id == photo_id).with_for_update(skip_locked=True).execution_options(populate_existing=True)
    )


def process_photo(photo_id: int, settings, with_faces: bool = True) -> Outcome:
    """Process one pending photo: normalise it, find and encode its faces, then queue matching."""
    started = time.monotonic()
    photo = lock_photo(photo_id)
    if photo is None:
        db.session.rollback()
        exists = db.session.get(Photo, photo_id) is not None
        return Outcome(photo_id, "skipped" if exists else "missing")
    if photo.status != "pending":
        db.session.rollback()
        return Outcome(photo_id, "skipped")
    if photo.attempts >= MAX_ATTEMPTS:
        finish(photo, "invalid", f"failed:{photo.attempts}")
        return Outcome(photo_id, "invalid")
    photo.attempts += 1
    db.session.commit()  # counts this attempt even if the worker dies below

    try:
        original = media_path(settings.media_dir, photo.sha256, EXTENSIONS[photo.mime]).read_bytes()
    except FileNotFoundError:
        photo = db.session.get(Photo, photo_id)
        finish(photo, "invalid", "file_missing")
        return Outcome(photo_id, "invalid")
    try:
        # Decoded once: the same pixels are stored (normalised JPEG) and searched for faces.
        decoded = decode_photo(original, settings.max_megapixels, formats=PHOTO_FORMATS)
        rgb, jpeg = normalised_jpeg(decoded)
    except Exception as exc:  # a file that passed upload checks but does not decode fully
        log.warning("event=photo_decode_failed photo_id=%s error=%s", photo_id, type(exc).__name__)
        photo = db.session.get(Photo, photo_id)
        finish(photo, "invalid", "undecodable")
        return Outcome(photo_id, "invalid")
    meta = {
        "exif_orientation": decoded.exif_orientation,
        "oriented_width": decoded.width,
        "oriented_height": decoded.height,
        "normalized_width": int(rgb.shape[1]),
        "normalized_height": int(rgb.shape[0]),
    }
    del decoded
    norm_sha = hashlib.sha256(jpeg).hexdigest()
    store(settings.media_dir, norm_sha, "jpg", jpeg)

    result = None
    status, reason = "processed", None
    if with_faces:
        try:
            result = faces.analyse(rgb, settings)
        except FaceImageError as exc:
            photo = db.session.get(Photo, photo_id)
            finish(photo, "invalid", getattr(exc, "reason_code", None) or "undecodable")
            return Outcome(photo_id, "invalid")
        status, reason = result.status, result.reason

    photo = db.session.scalar(select(Photo).where(Photo.id == photo_id).with_for_update().execution_options(populate_existing=True))
    if photo.status != "pending":  # another run finished first: keep its result
        db.session.rollback()
        return Outcome(photo_id, "skipped")
    photo.normalized_sha256 = norm_sha
    photo.taken_on = photo.taken_on or taken_on(original)
    photo.width, photo.height = meta["oriented_width"], meta["oriented_height"]
    photo.meta = {**(photo.meta or {}), **meta}
    if result is not None:
        faces.write_faces(photo, result)
    finish(photo, status, reason)
    log.info("event=photo_processed photo_id=%s status=%s ms=%d", photo_id, status, (time.monotonic() - started) * 1000)
    return Outcome(photo_id, status)


def taken_on(original: bytes):
    """The date the camera recorded (EXIF DateTimeOriginal), or None: review shows the age on the photo."""
    import io
    from datetime import datetime

    from PIL import Image

    try:
        with Image.open(io.BytesIO(original)) as img:
            raw = img.getexif().get_ifd(0x8769).get(0x9003) or img.getexif().get(0x0132)
        day = datetime.strptime(str(raw).strip()[:10], "%Y:%m:%d").date()
    except Exception:  # no EXIF, a camera without a clock, a malformed value: the date is simply unknown
        return None
    return day if 1990 <= day.year <= utcnow().year else None


def finish(photo: Photo, status: str, reason: str | None) -> None:
    """Reasons are codes (photo_reason in web/labels.py translates them): failed:N, file_missing,
    undecodable, faces:N, auto_chosen:N, staff_chosen, or a quality code (too_small...)."""
    photo.status = status
    photo.status_reason = reason
    photo.processed_at = utcnow()
    if photo.case_id:
        db.session.add(
            CaseEvent(case_id=photo.case_id, kind="photo_" + status, data={"photo_id": photo.id, "reason": reason})
        )
    db.session.commit()
    # Matching also closes the owner's `matching_status`: queue it whatever the outcome, or a case whose
    # last photo has no usable face (no_face, several faces, invalid) stays `pending` until the sweeper.
    candidates.queue_for_photo(photo)


def stale_pending_photos(older_than_seconds: int, limit: int = 500) -> list[int]:
    """Photos still pending whose message may have been lost; marks them re-queued now."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    rows = db.session.scalars(
        select(Photo)
        .where(Photo.status == "pending", or_(Photo.queued_at.is_(None), Photo.queued_at < cutoff))
        .order_by(Photo.id)
        .limit(limit)
        .with_for_update(skip_locked=True).execution_options(populate_existing=True)
    ).all()
    now = utcnow()
    for row in rows:
        row.queued_at = now
    ids = [r.id for r in rows]
    db.session.commit()
    return ids


def stale_matching(older_than_seconds: int, limit: int = 500) -> tuple[list[int], list[int]]:
    """Cases and reports whose photos are done but whose matching never finished (lost message)."""
    from ..models import Case, GalleryReport

    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    found = []
    for model, column in ((Case, Photo.case_id), (GalleryReport, Photo.report_id)):
        pending_photo = select(Photo.id).where(column == model.id, Photo.status == "pending").exists()
        found.append(list(db.session.scalars(
            select(model.id)
            .where(model.matching_status == "pending", model.updated_at < cutoff, ~pending_photo)
            .order_by(model.id).limit(limit)
        )))
    db.session.rollback()
    return found[0], found[1]


def stale_lead_checks(older_than_seconds: int, limit: int = 500) -> list[int]:
    """Street leads whose photos are done but whose face check never ran (lost message)."""
    from ..models import Lead

    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    pending_photo = select(Photo.id).where(Photo.lead_id == Lead.id, Photo.status == "pending").exists()
    ids = list(db.session.scalars(
        select(Lead.id).where(Lead.face_check == "pending", Lead.updated_at < cutoff, ~pending_photo)
        .order_by(Lead.id).limit(limit)
    ))
    db.session.rollback()
    return ids
