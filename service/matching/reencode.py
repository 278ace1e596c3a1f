"""Encode stored photos again when the face engine's version changes, so nothing drops out of matching.

Matching only compares faces of the current `engine.version`. After an upgrade the sweeper
(services/sweeper.py) sends the REENCODE_PHOTO task photos whose faces are all of other versions, a batch
at a time and only while the default queue is idle, so new arrivals are never kept waiting.

Idempotent and resumable: a photo that has faces of the current version is skipped, so a second message,
a lost one re-sent, or a restart after an interruption does nothing twice. The older versions' faces stay
(candidates point at them for their crops); retention erases faces of every version.

Failures do not loop: attempts are counted per engine version in `photo.meta["reencode"]` (committed
before the work, so a worker that dies on a photo counts too). A photo whose files are gone or do not
decode, or that failed MAX_ATTEMPTS times, is marked `invalid` like process_photo marks it (its reason
says why, and the case timeline shows it): it cannot be searched under the new engine, the sweeper's
query leaves it out, and staff see that it needs a new photo.
"""
from __future__ import annotations

import logging
import time

from sqlalchemy import func, select

from ..extensions import db
from ..media import EXTENSIONS, media_path
from ..models import Face, Photo
from . import candidates, faces
from .engine.engine import iou
from .engine.errors import FaceImageError
from .engine.image import PHOTO_FORMATS, decode_photo, normalised_jpeg
from .photos import MAX_ATTEMPTS, Outcome, finish, lock_photo

log = logging.getLogger(__name__)

# Photos whose faces were written: the ones that need new templates after an upgrade.
WITH_FACES = ("processed", "multiple_faces", "low_quality")
STAFF_OVERLAP = 0.5  # IoU at which a face found again is the face staff chose


def _owner_kinds():
    """Each owner kind's photos, in the order they are encoded again: the gallery (reports) before the
    arrivals searched against it, then street leads (owner precedence as faces.owner_of)."""
    return (
        Photo.case_id.is_(None) & Photo.lead_id.is_(None),
        Photo.case_id.is_not(None),
        Photo.case_id.is_(None) & Photo.lead_id.is_not(None),
    )


def _stale(engine_version: str):
    current = select(Face.id).where(Face.photo_id == Photo.id, Face.engine == engine_version).exists()
    other = select(Face.id).where(Face.photo_id == Photo.id, Face.engine != engine_version).exists()
    return Photo.status.in_(WITH_FACES) & other & ~current


def stale_after(engine_version: str, limit: int, after: tuple[int, int] | None = None) -> list[tuple[int, int]]:
    """(owner rank, photo id) of photos with faces of other engine versions only, in encoding order: reports'
    (rank 0), then cases' (1), then leads' (2), each by id; only those after `after` (the sweeper's cursor)."""
    found: list[tuple[int, int]] = []
    for rank, owner in enumerate(_owner_kinds()):
        if len(found) >= limit:
            break
        if after is not None and rank < after[0]:
            continue
        query = select(Photo.id).where(owner, _stale(engine_version))
        if after is not None and rank == after[0]:
            query = query.where(Photo.id > after[1])
        found += [(rank, photo_id) for photo_id in db.session.scalars(query.order_by(Photo.id).limit(limit - len(found)))]
    db.session.rollback()
    return found


def stale_photos(engine_version: str, limit: int) -> list[int]:
    """Ids of photos with faces of other engine versions only: reports' first, then cases', then leads', by id."""
    return [photo_id for _rank, photo_id in stale_after(engine_version, limit)]


def count_stale(engine_version: str) -> int:
    """How many photos still wait to be encoded with this engine version (status display)."""
    count = db.session.scalar(select(func.count(Photo.id)).where(_stale(engine_version))) or 0
    db.session.rollback()
    return int(count)


def _has_current(photo_id: int, engine_version: str) -> bool:
    return db.session.scalar(
        select(Face.id).where(Face.photo_id == photo_id, Face.engine == engine_version).limit(1)) is not None


def _pixels(photo: Photo, settings):
    """The stored normalised JPEG's pixels; else the original, normalised as process_photo did."""
    if photo.normalized_sha256:
        try:
            stored = media_path(settings.media_dir, photo.normalized_sha256, "jpg").read_bytes()
            return decode_photo(stored, settings.max_megapixels, formats=PHOTO_FORMATS).rgb
        except Exception as exc:  # gone or damaged: the original is the source of truth
            log.warning("event=reencode_normalised_unusable photo_id=%s error=%s", photo.id, type(exc).__name__)
    original = media_path(settings.media_dir, photo.sha256, EXTENSIONS[photo.mime]).read_bytes()
    rgb, _jpeg = normalised_jpeg(decode_photo(original, settings.max_megapixels, formats=PHOTO_FORMATS))
    return rgb


def _staff_box(photo_id: int, engine_version: str) -> list | None:
    """The box of the face staff chose under an older version (the latest such choice), if any."""
    return db.session.scalar(
        select(Face.box).where(Face.photo_id == photo_id, Face.engine != engine_version, Face.selected.is_(True),
                               Face.choice == "staff").order_by(Face.id.desc()).limit(1))


def _give_up(photo_id: int, reason: str) -> Outcome:
    photo = db.session.get(Photo, photo_id)
    finish(photo, "invalid", reason)
    log.warning("event=photo_reencode_failed photo_id=%s reason=%s", photo_id, reason)
    return Outcome(photo_id, "invalid")


def reencode_photo(photo_id: int, settings) -> Outcome:
    """Find and encode the faces of a processed photo with the current engine, keep a staff choice, queue matching."""
    started = time.monotonic()
    version = faces.engine_for(settings).version
    photo = lock_photo(photo_id)
    if photo is None:
        db.session.rollback()
        return Outcome(photo_id, "skipped" if db.session.get(Photo, photo_id) is not None else "missing")
    if photo.status not in WITH_FACES or _has_current(photo_id, version):
        db.session.rollback()
        return Outcome(photo_id, "skipped")
    state = (photo.meta or {}).get("reencode") or {}
    attempts = state.get("attempts", 0) if state.get("engine") == version else 0
    if attempts >= MAX_ATTEMPTS:
        return _give_up(photo_id, f"failed:{attempts}")
    photo.meta = {**(photo.meta or {}), "reencode": {"engine": version, "attempts": attempts + 1}}
    db.session.commit()  # counts this attempt even if the worker dies below

    try:
        rgb = _pixels(photo, settings)
    except FileNotFoundError:
        return _give_up(photo_id, "file_missing")
    except Exception as exc:  # neither file decodes any more
        log.warning("event=photo_decode_failed photo_id=%s error=%s", photo_id, type(exc).__name__)
        return _give_up(photo_id, "undecodable")
    try:
        result = faces.analyse(rgb, settings)
    except FaceImageError as exc:
        return _give_up(photo_id, getattr(exc, "reason_code", None) or "undecodable")

    photo = db.session.scalar(select(Photo).where(Photo.id == photo_id).with_for_update()
                              .execution_options(populate_existing=True))
    if photo.status not in WITH_FACES or _has_current(photo_id, version):  # another run finished first
        db.session.rollback()
        return Outcome(photo_id, "skipped")
    before, staff_box = photo.status, _staff_box(photo_id, version)
    rows = faces.write_faces(photo, result, reencoded=True)
    db.session.flush()
    status, reason = result.status, result.reason
    kept = _keep_staff_choice(photo, rows, staff_box, version)
    if kept:
        status, reason = photo.status, photo.status_reason  # as faces.choose_face set them
    if status != before:  # the photo's state changed: on the timeline, as process_photo records it
        finish(photo, status, reason)
    else:
        photo.status_reason = reason
        db.session.commit()
        candidates.queue_for_photo(photo, background=True)  # behind every arrival's matching
    log.info("event=photo_reencoded photo_id=%s engine=%s status=%s staff_choice_kept=%s ms=%d", photo_id, version,
             status, kept, (time.monotonic() - started) * 1000)
    return Outcome(photo_id, status)


def _keep_staff_choice(photo: Photo, rows: list[Face], staff_box, engine_version: str) -> bool:
    """The new face where staff chose one before becomes the chosen face, exactly as a person choosing it would."""
    if staff_box is None or not rows:
        return False
    best = max(rows, key=lambda f: iou(f.box, staff_box))
    if iou(best.box, staff_box) < STAFF_OVERLAP or best.template_id is None:
        log.info("event=staff_choice_not_found photo_id=%s engine=%s", photo.id, engine_version)
        return False
    faces.choose_face(photo, best.id, engine_version)
    return True
