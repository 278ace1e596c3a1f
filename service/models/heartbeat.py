"""Liveness marks of the background processes: the beat's last tick, the sweeper's last run, the last alert."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class Heartbeat(db.Model):
    """One row per signal (`beat`, `sweep`, `alert`), overwritten each time; `at` is the database's clock."""

    __tablename__ = "heartbeat"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict | None] = mapped_column(JSON)
