"""Biometric retention (PIPL): erase face templates and crops some days after a person went home.

Photos stay with the record; what goes is what makes a face searchable: encrypted templates, face rows
and their crop files. Stranded, transferred and settled people keep theirs (their search stays open).
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, or_, select

from ..extensions import db
from ..models import Case, Face, Photo
from ..models.types import utcnow
from . import audit
from ..media import media_path
from ..matching import templates

log = logging.getLogger(__name__)

RETURNED_STATES = ("returned",)  # family_pickup, escorted_home, self_return


def erase_due(settings) -> int:
    """Erase every case's and lead's templates past the retention period; return how many owners."""
    case_ids = due_for_erasure(settings.biometric_retention_days)
    for case_id in case_ids:
        erase_case_biometrics(case_id, settings)
    lead_ids = leads_due_for_erasure(settings.biometric_retention_days)
    for lead_id in lead_ids:
        erase_lead_biometrics(lead_id, settings)
    templates.delete_orphans()
    return len(case_ids) + len(lead_ids)


def due_for_erasure(retention_days: int, now=None, limit: int = 200) -> list[int]:
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    has_faces = select(Face.id).join(Photo, Photo.id == Face.photo_id).where(Photo.case_id == Case.id).exists()
    return list(db.session.scalars(
        select(Case.id).where(Case.state.in_(RETURNED_STATES), Case.closed_at.is_not(None), Case.closed_at < cutoff,
                              has_faces).order_by(Case.id).limit(limit)
    ))


def leads_due_for_erasure(retention_days: int, now=None, limit: int = 200) -> list[int]:
    """Street leads closed (or, never closed, reported) longer ago than the retention period, with faces.

    Photos a lead handed to an arrival are the case's now: their faces go with the case's, not the lead's."""
    from ..models import Lead

    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    has_faces = (select(Face.id).join(Photo, Photo.id == Face.photo_id)
                 .where(Photo.lead_id == Lead.id, Photo.case_id.is_(None)).exists())
    return list(db.session.scalars(
        select(Lead.id).where(or_(Lead.closed_at < cutoff, Lead.reported_at < cutoff), has_faces)
        .order_by(Lead.id).limit(limit)))


def erase_lead_biometrics(lead_id: int, settings, actor_id: int | None = None) -> dict:
    """A closed lead's face templates go like a returned person's (its photo stays for the record)."""
    return _erase(select(Photo.id).where(Photo.lead_id == lead_id, Photo.case_id.is_(None)), "lead", lead_id, settings,
                  actor_id)


def erase_case_biometrics(case_id: int, settings, actor_id: int | None = None) -> dict:
    """Delete the case's face rows and crop files (idempotent); logged in the audit trail."""
    return _erase(select(Photo.id).where(Photo.case_id == case_id), "case", case_id, settings, actor_id)


def _erase(photo_ids, kind: str, owner_id: int, settings, actor_id: int | None) -> dict:
    faces = db.session.scalars(select(Face).where(Face.photo_id.in_(photo_ids))).all()
    crops = {f.crop_sha256 for f in faces if f.crop_sha256}
    face_ids = [f.id for f in faces]
    erased = templates.delete_of_faces(Face.id.in_(face_ids))
    db.session.execute(delete(Face).where(Face.id.in_(face_ids)))
    audit.record(actor_id, "biometric.erase", kind, owner_id, {"faces": len(face_ids), "templates": erased, "crops": len(crops)})
    db.session.commit()
    removed = 0
    for sha in crops:
        # A crop file is named by content: keep it if another face (another case) has the same crop.
        if db.session.scalar(select(Face.id).where(Face.crop_sha256 == sha).limit(1)) is None:
            path = media_path(settings.media_dir, sha, "jpg")
            if path.exists():
                path.unlink()
                removed += 1
    log.info("event=biometric_erased kind=%s owner_id=%s faces=%d crop_files=%d", kind, owner_id, len(face_ids), removed)
    from ..matching.candidates import drop_faces

    drop_faces(face_ids)
    return {f"{kind}_id": owner_id, "faces": len(face_ids), "crop_files": removed}
