"""Family search beyond the channels: deadline alerts and the family contact log."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class DeadlineAlert(db.Model):
    """An overdue step found by the deadline sweep; one row per (case, rule, due time)."""

    __tablename__ = "deadline_alert"
    __table_args__ = (UniqueConstraint("case_id", "rule_code", "due_at", name="uq_deadline_alert_case_rule_due"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    rule_code: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str | None] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class FamilyContact(db.Model):
    """A call, visit or message with the family of an identified person."""

    __tablename__ = "family_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    contact_name: Mapped[str | None] = mapped_column(String(80))
    relation: Mapped[str | None] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(40))
    method: Mapped[str] = mapped_column(String(16))  # phone | visit | message | police | office
    outcome: Mapped[str | None] = mapped_column(String(40))  # reached | no_answer | refused | will_pick_up
    note: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
