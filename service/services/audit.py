"""The audit trail: one row for every view of sensitive data and every change."""
from __future__ import annotations

from ..extensions import db
from ..models import AuditEntry


def record(
    user_id: int | None,
    action: str,
    object_type: str | None = None,
    object_id: int | None = None,
    detail: dict | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Add an audit row to the current transaction (the caller commits)."""
    entry = AuditEntry(
        user_id=user_id, action=action, object_type=object_type, object_id=object_id, detail=detail, ip=ip
    )
    db.session.add(entry)
    return entry


def record_now(*args, **kwargs) -> None:
    """Audit a read: its own commit, so that a view is logged even when nothing changes."""
    record(*args, **kwargs)
    db.session.commit()
