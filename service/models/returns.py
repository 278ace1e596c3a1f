"""Going home safely: the family verification before a handover, follow-ups after, and re-arrival alerts."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime


class HandoverVerification(db.Model):
    """Who checked that the "family" is the family, and with what (DNA, hukou/police, ID, video call, photos)."""

    __tablename__ = "handover_verification"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    evidence: Mapped[list] = mapped_column(JSON)  # kinds from domain.handover.EVIDENCE_KINDS
    details: Mapped[dict | None] = mapped_column(JSON)  # per kind: result number, officer, call time...
    family_name: Mapped[str | None] = mapped_column(String(80))
    relation: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    checked_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    # A minor's handover: a supervisor approves the verification (never the person who checked).
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    checked_by: Mapped["User"] = relationship(foreign_keys=[checked_by_id])  # noqa: F821
    approved_by: Mapped["User | None"] = relationship(foreign_keys=[approved_by_id])  # noqa: F821


class FollowUp(db.Model):
    """A call after someone went home (1 week, 1 month, 3 months), with what was learned."""

    __tablename__ = "follow_up"
    __table_args__ = (UniqueConstraint("case_id", "step", name="uq_follow_up_case_step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    step: Mapped[str] = mapped_column(String(8))  # 1w | 1m | 3m
    due_on: Mapped[date] = mapped_column(Date, index=True)
    outcome: Mapped[str | None] = mapped_column(String(24))  # domain.followups.OUTCOMES; None = still due
    note: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())

    case: Mapped["Case"] = relationship()  # noqa: F821


class ReArrivalAlert(db.Model):
    """Someone sent home is back at a station: the supervisors of both stations are told."""

    __tablename__ = "re_arrival_alert"
    __table_args__ = (UniqueConstraint("case_id", "previous_case_id", name="uq_re_arrival_alert_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)  # the new arrival
    previous_case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)  # the stay that ended home
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)  # where they are now
    previous_station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)  # who sent them home
    returned_on: Mapped[date] = mapped_column(Date)
    exit_type: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    case: Mapped["Case"] = relationship(foreign_keys=[case_id])  # noqa: F821
    previous_case: Mapped["Case"] = relationship(foreign_keys=[previous_case_id])  # noqa: F821
