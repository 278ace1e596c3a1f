"""What enrolling a face puts on record: the person's legal basis and purpose, and the face search it causes.

Runs in the photo's transaction (faces.write_faces). The basis row is set at the first enrolment and
changes only with the person's status (a report found to be a minor's); each setting or change is an
audit row (`biometric.enrol`, `biometric.basis`), and every photo searched is a `face.search` row for the
account that uploaded it: the processing log, and what the privacy watch counts (services/privacy.py).
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..domain import biometrics
from ..extensions import db
from ..models import BiometricBasis, Case, Face, GalleryReport, Lead, Photo
from ..models.types import utcnow
from ..services import audit


def basis_of(kind: str, owner_id: int) -> biometrics.Basis | None:
    """The basis the rules give this person now (None when the record is gone)."""
    if kind == "case":
        case = db.session.get(Case, owner_id)
        return biometrics.basis_for("case", bool(case.is_minor)) if case else None
    if kind == "lead":
        lead = db.session.get(Lead, owner_id)
        return biometrics.basis_for("lead", "minor" in (lead.urgency or [])) if lead else None
    report = db.session.get(GalleryReport, owner_id)
    if report is None:
        return None
    minor = biometrics.report_is_minor(utcnow().date(), report.birth_date, report.age_at_missing, report.missing_since)
    return biometrics.basis_for("report", minor, report.source)


def record_basis(kind: str, owner_id: int, photo_id: int | None = None) -> BiometricBasis | None:
    """Put the owner's basis on record (idempotent; two photos of one person at once make one row)."""
    wanted = basis_of(kind, owner_id)
    if wanted is None:
        return None
    row = basis_on_record(kind, owner_id)
    if row is None:
        try:
            with db.session.begin_nested():
                row = BiometricBasis(owner_kind=kind, owner_id=owner_id, basis=wanted.basis, purpose=wanted.purpose,
                                     minor=wanted.minor)
                db.session.add(row)
        except IntegrityError:  # the other photo's transaction recorded it first
            row = basis_on_record(kind, owner_id)
        else:
            audit.record(None, "biometric.enrol", kind, owner_id,
                         {"basis": wanted.basis, "purpose": wanted.purpose, "minor": wanted.minor, "photo_id": photo_id})
            return row
    if (row.basis, row.purpose, row.minor) != (wanted.basis, wanted.purpose, wanted.minor):
        audit.record(None, "biometric.basis", kind, owner_id,
                     {"from": row.basis, "basis": wanted.basis, "purpose": wanted.purpose, "minor": wanted.minor})
        row.basis, row.purpose, row.minor = wanted.basis, wanted.purpose, wanted.minor
    return row


def basis_on_record(kind: str, owner_id: int) -> BiometricBasis | None:
    """The basis recorded for this person (None: no face of theirs was ever enrolled)."""
    return db.session.scalar(select(BiometricBasis).where(BiometricBasis.owner_kind == kind,
                                                          BiometricBasis.owner_id == owner_id))


def record(photo: Photo, faces: list[Face], reencoded: bool = False) -> None:
    """After a photo's faces are written: the basis on record, and the face search counted for the uploader.

    A photo encoded again for a new engine version (matching.reencode) is searched by the system, not by the
    uploader: its row names no account, so an upgrade does not look like a clerk's unusual search volume."""
    if not faces:
        return
    kind, owner_id = faces[0].owner_kind, faces[0].owner_id
    record_basis(kind, owner_id, photo.id)
    if reencoded:
        audit.record(None, "face.search", kind, owner_id,
                     {"photo_id": photo.id, "faces": len(faces), "engine": faces[0].engine})
    elif photo.uploaded_by_id is not None:
        audit.record(photo.uploaded_by_id, "face.search", kind, owner_id, {"photo_id": photo.id, "faces": len(faces)})

