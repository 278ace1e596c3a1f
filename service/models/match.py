"""Faces found in photos, and candidate matches for a person to decide."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime


class FaceTemplate(db.Model):
    """A face's template, encrypted (matching.sealed), kept apart from who it belongs to (GB/T 35273).

    Nothing here names a person, a case, a report or a photo: the id is a random pseudonym that only the
    `face` row points to, and only the matching code follows that pointer back.
    """

    __tablename__ = "face_template"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    engine: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(16), index=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)


class Face(db.Model):
    """One face of one photo for one engine: box, quality, template reference, display crop."""

    __tablename__ = "face"
    __table_args__ = (UniqueConstraint("photo_id", "engine", "face_index", name="uq_face_photo_engine_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id", ondelete="CASCADE"), index=True)
    engine: Mapped[str] = mapped_column(String(40))  # engine version, e.g. sface-2021dec-int8bq-tta2
    face_index: Mapped[int]  # 0 = largest
    owner_kind: Mapped[str] = mapped_column(String(8))  # case | report (denormalised for the index loader)
    owner_id: Mapped[int] = mapped_column(index=True)
    box: Mapped[list] = mapped_column(JSON)
    landmarks: Mapped[list | None] = mapped_column(JSON)
    det_score: Mapped[float] = mapped_column(Float)
    quality: Mapped[dict] = mapped_column(JSON)
    quality_ok: Mapped[bool] = mapped_column(Boolean)
    quality_reason: Mapped[str | None] = mapped_column(String(40))
    # The encrypted template (None once erased): a pseudonym, the only link to the `face_template` row.
    template_id: Mapped[str | None] = mapped_column(ForeignKey("face_template.id", ondelete="SET NULL"), unique=True)
    crop_sha256: Mapped[str | None] = mapped_column(String(64))
    # Matched (and, for cases and reports, in the gallery index): the photo's subject, or while a photo
    # with several equally plausible faces waits for staff, each of those faces.
    selected: Mapped[bool] = mapped_column(Boolean, default=False)
    # How it was chosen: only (the one usable face) | auto (dominant among several: "chosen automatically")
    # | staff (a person chose) | plausible (one of several, until someone chooses) | low_quality (the subject
    # fails the quality check, searched anyway and flagged). None: not matched.
    choice: Mapped[str | None] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())

    photo: Mapped["Photo"] = relationship()  # noqa: F821
    template: Mapped[FaceTemplate | None] = relationship()


Index("ix_face_engine_selected_id", Face.engine, Face.selected, Face.id)


class CandidateMatch(db.Model):
    """A proposed identity link (case ↔ report, or case ↔ earlier arrival); people decide."""

    __tablename__ = "candidate_match"

    id: Mapped[int] = mapped_column(primary_key=True)
    # g:<case>:<report> or a:<older case>:<newer case>: one row per pair, whatever re-runs.
    pair_key: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # gallery | previous_arrival | description (clues only)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("gallery_report.id"), index=True)
    other_case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"), index=True)
    engine: Mapped[str | None] = mapped_column(String(40))  # None: no face compared (description only)
    face_distance: Mapped[float | None] = mapped_column(Float)
    case_face_id: Mapped[int | None] = mapped_column(ForeignKey("face.id", ondelete="SET NULL"))
    other_face_id: Mapped[int | None] = mapped_column(ForeignKey("face.id", ondelete="SET NULL"))
    score: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(10))  # likely | possible
    evidence: Mapped[dict | None] = mapped_column(JSON)  # reasons + attribute agreement table
    # The two channels' own scores when a pair is seen by both; `score` and `band` are then fused.
    face_score: Mapped[float | None] = mapped_column(Float)
    description_score: Mapped[float | None] = mapped_column(Float)
    description_band: Mapped[str | None] = mapped_column(String(10))
    description_evidence: Mapped[dict | None] = mapped_column(JSON)  # the description signals (domain.clues)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)  # pending|confirmed|rejected
    note: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), onupdate=func.now())

    case: Mapped["Case"] = relationship(foreign_keys=[case_id])  # noqa: F821
    other_case: Mapped["Case | None"] = relationship(foreign_keys=[other_case_id])  # noqa: F821
    report: Mapped["GalleryReport | None"] = relationship()  # noqa: F821
