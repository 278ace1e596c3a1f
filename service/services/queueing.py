"""Photos to the workers, after the commit: sent now, or marked unsent for the sweeper.

The registration is already committed when this runs; the broker only hears "look at photo N". A photo
the broker did not take keeps `queued_at` NULL, and the next sweep sends it whatever its age, so a clerk
is never held up by the broker and a broker outage costs one sweep interval once it is back.
"""
from __future__ import annotations

from sqlalchemy import update

from .. import tasking
from ..extensions import db
from ..models import Photo


def send_photos(photo_ids: list[int]) -> list[int]:
    """Send each photo to the workers; those that did not go are marked unsent (for the sweeper) and returned."""
    unsent = [pid for pid in photo_ids if not tasking.enqueue(tasking.PROCESS_PHOTO, pid)]
    if unsent:
        mark_unsent(unsent)
    return unsent


def queue_photos(photo_ids: list[int]) -> bool:
    """Send each photo to the workers; False if any did not go (those wait for the sweeper, marked unsent)."""
    return not send_photos(photo_ids)


def mark_unsent(photo_ids: list[int]) -> None:
    db.session.execute(update(Photo).where(Photo.id.in_(photo_ids), Photo.status == "pending").values(queued_at=None))
    db.session.commit()
