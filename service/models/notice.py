"""The family-search notice (寻亲公告) of a case: its approval and withdrawal.

The notice's content is computed from the case each time it is shown (so a correction or an
identification shows at once); this row keeps only what people decided about it.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .case import Case
from .types import UTCDateTime

NOTICE_STATES = ("draft", "approved", "published", "withdrawn")


class Notice(db.Model):
    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), unique=True)
    # draft → approved (a supervisor, required for minors) → published; any → withdrawn when resolved
    state: Mapped[str] = mapped_column(String(12), default="draft")
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), onupdate=func.now())

    case: Mapped[Case] = relationship()
