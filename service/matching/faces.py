"""Faces of a photo: run the engine, keep one row per face with a display crop, pick the face to match."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, select, update

from ..domain.errors import Conflict, InvalidValue, NotFound
from ..extensions import db
from ..models import Face, Photo
from ..media import store
from . import enrolment, templates
from .sealed import TemplateRefused


@dataclass
class FaceResult:
    """What the engine found in one photo, ready to be written under the photo's row lock."""

    engine_version: str
    status: str
    reason: str | None
    faces: list  # DetectedFace
    crops: list[str]  # crop sha256 per face (files already stored)
    subject: int | None = None  # the face the photo is about (engine/subject.py)
    plausible: tuple[int, ...] = ()  # ambiguous photo: every face searched until a person chooses
    choice: str | None = None  # only | auto | plausible

    def selection(self, index: int) -> tuple[bool, str | None]:
        """(matched?, how it was chosen) of face `index`: the subject, or each plausible face while ambiguous."""
        if index == self.subject:
            return True, self.choice
        if index in self.plausible:
            return True, "plausible"
        return False, None


def engine_for(settings):
    from .engine import get_engine

    return get_engine(settings.face_engine)


def analyse(rgb, settings) -> FaceResult:
    """Detect, measure and encode every face of a normalised photo's pixels; store the crops."""
    from .engine import crop_face_jpeg

    engine = engine_for(settings)
    analysis = engine.analyze(rgb)
    crops = []
    for face in analysis.faces:
        crop = crop_face_jpeg(rgb, face)
        sha = hashlib.sha256(crop).hexdigest()
        store(settings.media_dir, sha, "jpg", crop)
        crops.append(sha)
    return FaceResult(engine.version, analysis.status, analysis.status_reason, analysis.faces, crops,
                      analysis.subject, tuple(analysis.plausible), analysis.choice)


def owner_of(photo: Photo) -> tuple[str, int]:
    if photo.case_id is not None:
        return "case", photo.case_id
    if photo.lead_id is not None:
        return "lead", photo.lead_id
    return "report", photo.report_id


def follow_photos(photos: list[Photo]) -> int:
    """Faces follow their photos to the owner they have now (a street lead's photos handed to the arrival).

    The same rows, templates and crops: nothing is detected or encoded again. The caller holds the photos'
    row locks, so a photo still being processed writes its faces for the new owner. Returns how many moved.
    """
    moved = 0
    for photo in photos:
        kind, owner_id = owner_of(photo)
        count = db.session.execute(
            update(Face).where(Face.photo_id == photo.id).values(owner_kind=kind, owner_id=owner_id)
        ).rowcount
        if count:
            enrolment.record_basis(kind, owner_id, photo.id)  # the new owner's legal basis on record too
        moved += count
    return moved


def write_faces(photo: Photo, result: FaceResult, reencoded: bool = False) -> list[Face]:
    """Replace this engine's faces of the photo (the caller holds the photo's row lock); other versions' stay."""
    templates.delete_of_faces(Face.photo_id == photo.id, Face.engine == result.engine_version)
    db.session.execute(delete(Face).where(Face.photo_id == photo.id, Face.engine == result.engine_version))
    kind, owner_id = owner_of(photo)
    rows = []
    for index, (face, crop) in enumerate(zip(result.faces, result.crops)):
        selected, choice = result.selection(index)
        rows.append(
            Face(
                photo_id=photo.id,
                engine=result.engine_version,
                face_index=index,
                owner_kind=kind,
                owner_id=owner_id,
                box=list(face.box),
                landmarks=[list(p) for p in face.landmarks] if face.landmarks is not None else None,
                det_score=float(face.det_score),
                quality={k: (float(v) if isinstance(v, (int, float, np.floating)) else v) for k, v in face.quality.items()},
                quality_ok=bool(face.quality_ok),
                quality_reason=face.quality_reason,
                template=templates.new_template(result.engine_version, face.embedding),
                crop_sha256=crop,
                # The subject is matched; an ambiguous photo is searched with each plausible face until staff choose.
                selected=selected,
                choice=choice,
            )
        )
    db.session.add_all(rows)
    enrolment.record(photo, rows, reencoded)
    return rows


def shown_faces(photo_id: int) -> list[Face]:
    """A photo's faces as pages, the API and the chooser show them: those of the newest engine version written.

    After an upgrade that is the re-encoded faces (matching.reencode); the older rows stay only for the
    candidates that show their crops, and are neither drawn twice nor offered to choose."""
    newest = select(Face.engine).where(Face.photo_id == photo_id).order_by(Face.id.desc()).limit(1).scalar_subquery()
    return list(db.session.scalars(
        select(Face).where(Face.photo_id == photo_id, Face.engine == newest).order_by(Face.face_index)))


def vector(face: Face) -> np.ndarray:
    """The face's template, decrypted in memory; TemplateRefused (logged) when it cannot be trusted."""
    return templates.vector_of(face)


def usable_vectors(faces: list[Face]):
    """(face, vector) of each face whose template opens; a refused one is logged and left out, never used."""
    for face in faces:
        try:
            yield face, vector(face)
        except TemplateRefused:
            continue


def choose_face(photo: Photo, face_id: int, engine_version: str) -> Face:
    """Staff pick the face of a photo with several faces (or accept a low-quality one); no commit.

    Callers go through services/face_choice.choose (access, audit, commit, matching)."""
    if photo.status not in ("multiple_faces", "low_quality", "processed"):
        raise Conflict(f"photo {photo.id} is {photo.status}: there is no face to choose", "face_id")
    faces = db.session.scalars(
        select(Face).where(Face.photo_id == photo.id, Face.engine == engine_version).with_for_update().execution_options(populate_existing=True)
    ).all()
    chosen = next((f for f in faces if f.id == face_id), None)
    if chosen is None:
        raise NotFound(f"face {face_id} is not a face of photo {photo.id}")
    if chosen.template_id is None:
        raise InvalidValue("this face has no embedding (biometric data erased)", "face_id")
    for face in faces:
        face.selected = face.id == face_id
        face.choice = "staff" if face.id == face_id else None
    photo.status = "processed"
    photo.status_reason = "staff_chosen"
    return chosen
