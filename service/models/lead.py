"""Street leads from reporters, patrol runs, and special campaigns (寒潮/高温专项救助)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime


class Lead(db.Model):
    """A sighting of someone who seems stranded, sent by a reporter; staff dispatch a team."""

    __tablename__ = "street_lead"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    source: Mapped[str] = mapped_column(String(20))  # patrol | volunteer | driver | ... (domain.leads.SOURCES)
    # The phone's key for this report: a retried or resumed upload makes one lead.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the reporter saw the person
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), index=True)
    place: Mapped[str | None] = mapped_column(String(200))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    description: Mapped[str | None] = mapped_column(Text)
    urgency: Mapped[list] = mapped_column(JSON, default=list)  # domain.leads.URGENCY_FLAGS

    # open → assigned → on_site → closed (domain.leads.TRANSITIONS)
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)
    team: Mapped[str | None] = mapped_column(String(80))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    on_site_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(20))
    outcome_note: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"), index=True)

    # The face check: what the reporter may see (known / not_known), and for staff the candidates.
    face_check: Mapped[str] = mapped_column(String(12), default="pending")
    face_candidates: Mapped[list | None] = mapped_column(JSON)
    face_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), onupdate=func.now())

    photos: Mapped[list["Photo"]] = relationship(back_populates="lead", order_by="Photo.id")  # noqa: F821
    reporter: Mapped["User"] = relationship(foreign_keys=[reporter_id])  # noqa: F821
    campaign: Mapped["Campaign | None"] = relationship()


class Campaign(db.Model):
    """A special campaign of a station over some days (cold wave, heat wave...)."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))  # domain.leads.CAMPAIGN_KINDS
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    area: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class PatrolRun(db.Model):
    """One street patrol (街面巡查) by a team: where, when, how many people they talked to or brought in."""

    __tablename__ = "patrol_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    team: Mapped[str] = mapped_column(String(80))
    area: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    people_contacted: Mapped[int] = mapped_column(default=0)
    people_brought_in: Mapped[int] = mapped_column(default=0)
    note: Mapped[str | None] = mapped_column(Text)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


Index("ix_street_lead_station_status", Lead.station_id, Lead.status)
