"""A person's identity confirmed: one rule for every way it happens (a channel step, a confirmed face match)."""
from __future__ import annotations

from datetime import datetime

from ..models import Case, CaseEvent, User
from ..models.types import utcnow
from .notices import withdraw_if_resolved


def confirm_identity(actor: User, case: Case, channel: str, link: dict | None = None,
                     now: datetime | None = None) -> bool:
    """Record the identity as confirmed through `channel`; True if it was not confirmed before.

    The first confirmation sets the date and the decisive channel. A later one keeps both (the channel that
    identified the person first stays the decisive one): a channel confirming again records nothing, while a
    `link` (the candidate and report of a face match) is logged even for an identity already confirmed.
    Resolving the case withdraws its public notice. Adds to the caller's transaction.
    """
    first = case.identity_status != "confirmed"
    if not first and not link:
        return False
    if first:
        case.identity_status, case.identified_at = "confirmed", now or utcnow()
        case.identified_by_channel = channel
    case.events.append(CaseEvent(kind="identity_confirmed", user_id=actor.id, data={"by": channel, **(link or {})}))
    withdraw_if_resolved(case)
    return first
