"""Records the face-recognition rules ask for: legal basis per enrolled person, a processing record and
impact-assessment reference per station, and privacy alerts (enrolment threshold, face-search volume)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .station import Station
from .types import UTCDateTime


class BiometricBasis(db.Model):
    """Why a person's face is processed (PIPL Arts 13, 28, 31): set when their first face is enrolled."""

    __tablename__ = "biometric_basis"
    __table_args__ = (UniqueConstraint("owner_kind", "owner_id", name="uq_biometric_basis_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(8))  # case | report | lead
    owner_id: Mapped[int]
    basis: Mapped[str] = mapped_column(String(24))  # domain.biometrics.LEGAL_BASES
    purpose: Mapped[str] = mapped_column(String(24))  # domain.biometrics.PURPOSES
    minor: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), onupdate=func.now())


class ProcessingRecord(db.Model):
    """A station's record of processing of face data (处理活动记录) and its impact-assessment reference."""

    __tablename__ = "processing_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), unique=True)
    controller: Mapped[str | None] = mapped_column(String(200))  # who processes (处理者)
    responsible_person: Mapped[str | None] = mapped_column(String(80))
    contact: Mapped[str | None] = mapped_column(String(120))
    purpose: Mapped[str | None] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    data_categories: Mapped[str | None] = mapped_column(Text)
    retention: Mapped[str | None] = mapped_column(Text)
    recipients: Mapped[str | None] = mapped_column(Text)
    security_measures: Mapped[str | None] = mapped_column(Text)
    # 个人信息保护影响评估: document reference, when done, when to review.
    assessment_reference: Mapped[str | None] = mapped_column(String(120))
    assessed_on: Mapped[date | None] = mapped_column(Date)
    review_due_on: Mapped[date | None] = mapped_column(Date)
    # Filing with the provincial cyberspace office (备案), once required.
    filing_reference: Mapped[str | None] = mapped_column(String(120))
    filed_on: Mapped[date | None] = mapped_column(Date)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), onupdate=func.now())

    station: Mapped[Station] = relationship()


class PrivacyAlert(db.Model):
    """Something admins must look at: enrolment reached the filing threshold, an account searched too many
    faces, a stored template was refused. One row per `key`, however often the watch runs."""

    __tablename__ = "privacy_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)  # enrolment_threshold | face_search_volume
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id"))
    detail: Mapped[dict | None] = mapped_column(JSON)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), index=True)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str | None] = mapped_column(Text)
