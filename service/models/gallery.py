"""The missing-person gallery: reports filed by families and police, and import jobs."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime


class GalleryReport(db.Model):
    """A missing-person report (寻人登记): matched against every arrival."""

    __tablename__ = "gallery_report"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_gallery_report_source_external"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # open → found (a case was confirmed) | closed (withdrawn by the family or police)
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)
    source: Mapped[str] = mapped_column(String(12), default="family")  # family|police|portal|import
    external_id: Mapped[str | None] = mapped_column(String(120))  # id in the source system (import dedupe)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id"), index=True)

    name: Mapped[str | None] = mapped_column(String(80), index=True)
    gender: Mapped[str] = mapped_column(String(8), default="unknown")
    birth_date: Mapped[date | None] = mapped_column(Date)
    age_at_missing: Mapped[int | None]
    missing_since: Mapped[date | None] = mapped_column(Date)
    missing_place: Mapped[str | None] = mapped_column(String(200))
    hometown: Mapped[str | None] = mapped_column(String(200))
    marks: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    contact_name: Mapped[str | None] = mapped_column(String(80))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    # Fields PFIF lacks (estimated age, mental state, accent, clothing, place found): carried as extensions.
    extra: Mapped[dict | None] = mapped_column(JSON)

    found_case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"))
    matching_status: Mapped[str] = mapped_column(String(16), default="pending")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), onupdate=func.now())

    photos: Mapped[list["Photo"]] = relationship(back_populates="report", order_by="Photo.id")  # noqa: F821


class Job(db.Model):
    """A long background job (bulk import, re-match) with progress for the UI and GET /jobs/{id}."""

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # import_reports | rematch
    state: Mapped[str] = mapped_column(String(12), default="queued", index=True)  # queued|running|done|failed
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list] = mapped_column(JSON, default=list)
    params: Mapped[dict | None] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
