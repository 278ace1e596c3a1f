"""A search that a gallery shard did not answer: the owner's matching is incomplete until it is run again."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class SearchGap(db.Model):
    """Shard `shard` of `shard_count` did not answer the last search for this case, report or lead.

    One row per (owner, shard); deleted when a later search of the owner hears from every shard.
    """

    __tablename__ = "search_gap"
    __table_args__ = (UniqueConstraint("owner_kind", "owner_id", "shard", name="uq_search_gap_owner_shard"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(8))  # case | report | lead
    owner_id: Mapped[int]
    shard: Mapped[int]
    shard_count: Mapped[int]
    engine: Mapped[str] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(default=1)
    first_missed_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    last_missed_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    # The sweeper runs the owner's matching again from then on (backing off while the shard stays away).
    retry_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), index=True)
