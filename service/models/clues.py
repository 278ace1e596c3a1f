"""Description matching's stored reading of each case and report, and its inverted index."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class ClueProfile(db.Model):
    """A case's or report's clues read once (names with readings, division codes, marks, age): see domain.clues."""

    __tablename__ = "clue_profile"
    __table_args__ = (UniqueConstraint("owner_kind", "owner_id", name="uq_clue_profile_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(8))  # case | report
    owner_id: Mapped[int]
    profile: Mapped[dict] = mapped_column(JSON)
    # Hash of what the profile was read from: an unchanged record is not read or proposed again.
    source_hash: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class ClueKey(db.Model):
    """One index key of a profile (fuzzy name reading, relative, village, county, prefecture)."""

    __tablename__ = "clue_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(8))
    owner_id: Mapped[int]
    key: Mapped[str] = mapped_column(String(80))


Index("ix_clue_key_key_owner", ClueKey.key, ClueKey.owner_kind, ClueKey.owner_id)
Index("ix_clue_key_owner", ClueKey.owner_kind, ClueKey.owner_id)
