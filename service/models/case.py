"""A case: one stay of one stranded person at a station, with photos and a timeline."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .station import Station
from .types import UTCDateTime


class Case(db.Model):
    __tablename__ = "case_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str | None] = mapped_column(String(40), unique=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    state: Mapped[str] = mapped_column(String(24), default="in_station", index=True)
    identity_status: Mapped[str] = mapped_column(String(16), default="unknown", index=True)
    exit_type: Mapped[str | None] = mapped_column(String(24))
    # The handover record of the exit (collector, receiving office, destination...).
    exit_details: Mapped[dict | None] = mapped_column(JSON)
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A client-chosen key: the same form submitted twice makes one case.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    # What the person says or carries (facts as far as known).
    name: Mapped[str | None] = mapped_column(String(80), index=True)
    gender: Mapped[str] = mapped_column(String(8), default="unknown")
    birth_date: Mapped[date | None] = mapped_column(Date)
    id_number: Mapped[str | None] = mapped_column(String(18), index=True)
    household_place: Mapped[str | None] = mapped_column(String(200))  # 户籍地
    hometown_hint: Mapped[str | None] = mapped_column(String(200))
    relatives_named: Mapped[str | None] = mapped_column(Text)
    # What staff estimate (kept apart from facts).
    age_min: Mapped[int | None]
    age_max: Mapped[int | None]
    height_cm: Mapped[int | None]
    build: Mapped[str | None] = mapped_column(String(40))
    # Where and how found.
    found_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    found_place: Mapped[str | None] = mapped_column(String(200))
    found_lat: Mapped[float | None] = mapped_column(Float)
    found_lng: Mapped[float | None] = mapped_column(Float)
    referral: Mapped[str | None] = mapped_column(String(24))
    referring_officer: Mapped[str | None] = mapped_column(String(120))
    referral_handover_no: Mapped[str | None] = mapped_column(String(60))
    # Physical and communication.
    marks: Mapped[str | None] = mapped_column(Text)
    clothing: Mapped[str | None] = mapped_column(Text)
    dialect: Mapped[str | None] = mapped_column(String(80))
    languages: Mapped[str | None] = mapped_column(String(120))
    can_communicate: Mapped[bool | None] = mapped_column(Boolean)
    mental_state: Mapped[str | None] = mapped_column(Text)
    health_notes: Mapped[str | None] = mapped_column(Text)
    vagrancy_history: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    categories: Mapped[list] = mapped_column(JSON, default=list)
    is_minor: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    accommodation_zone: Mapped[str | None] = mapped_column(String(60))
    belongings: Mapped[str | None] = mapped_column(Text)

    matching_status: Mapped[str] = mapped_column(String(16), default="pending")
    # Set when a reviewer confirms an identity: the report or earlier arrival that decided it.
    identified_by_report_id: Mapped[int | None] = mapped_column(ForeignKey("gallery_report.id", use_alter=True))
    previous_case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"))
    identified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Which of the six channels produced the decisive lead (national figures lack this per case).
    identified_by_channel: Mapped[str | None] = mapped_column(String(16), index=True)
    # Staff's judgement for the exit rules; None = not assessed.
    can_travel_alone: Mapped[bool | None] = mapped_column(Boolean)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), onupdate=func.now())

    station: Mapped[Station] = relationship()
    photos: Mapped[list["Photo"]] = relationship(back_populates="case", order_by="Photo.id")
    events: Mapped[list["CaseEvent"]] = relationship(back_populates="case", order_by="CaseEvent.id")
    channels: Mapped[list["SearchChannel"]] = relationship(back_populates="case", order_by="SearchChannel.id")


class Photo(db.Model):
    """An uploaded photo of a case or of a missing-person report, stored under its SHA-256."""

    __tablename__ = "photo"
    __table_args__ = (
        UniqueConstraint("case_id", "sha256", name="uq_photo_case_sha256"),
        UniqueConstraint("report_id", "sha256", name="uq_photo_report_sha256"),
        UniqueConstraint("lead_id", "sha256", name="uq_photo_lead_sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("gallery_report.id"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("street_lead.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    mime: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int]
    width: Mapped[int]
    height: Mapped[int]
    # pending → processed | no_face | multiple_faces | low_quality | invalid
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    status_reason: Mapped[str | None] = mapped_column(String(200))
    normalized_sha256: Mapped[str | None] = mapped_column(String(64))
    # When the photo was taken, where known (EXIF DateTimeOriginal): review shows the person's age on it.
    taken_on: Mapped[date | None] = mapped_column(Date)
    meta: Mapped[dict | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(default=0)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())

    case: Mapped[Case | None] = relationship(back_populates="photos")
    report: Mapped["GalleryReport | None"] = relationship(back_populates="photos")  # noqa: F821
    lead: Mapped["Lead | None"] = relationship(back_populates="photos")  # noqa: F821


class CaseEvent(db.Model):
    """One line of a case's timeline."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    kind: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSON)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    case: Mapped[Case] = relationship(back_populates="events")


class SearchChannel(db.Model):
    """One of the six family-search channels of one case (五加一)."""

    __tablename__ = "search_channel"
    __table_args__ = (UniqueConstraint("case_id", "channel", name="uq_search_channel_case_channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), default="not_started")
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), onupdate=func.now())

    case: Mapped[Case] = relationship(back_populates="channels")
    events: Mapped[list["ChannelEvent"]] = relationship(back_populates="channel", order_by="ChannelEvent.id")


class ChannelEvent(db.Model):
    """A step logged on a channel: a post, a push, a DNA result, an interview..."""

    __tablename__ = "channel_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("search_channel.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(200))
    fields: Mapped[dict | None] = mapped_column(JSON)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    channel: Mapped[SearchChannel] = relationship(back_populates="events")


Index("ix_photo_status_queued", Photo.status, Photo.queued_at)
