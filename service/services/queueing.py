"""Enqueue background work by task name and id, after the commit, tolerating a dead broker.

The database is the source of truth: a message that cannot be sent now is re-sent by the
sweeper (workers.tasks.sweep_pending_photos), so a broker outage never loses a registration.
"""
from __future__ import annotations

import logging

from ..extensions import celery

log = logging.getLogger(__name__)

PROCESS_PHOTO = "workers.tasks.process_photo"


def enqueue(task_name: str, *ids: int, queue: str | None = None) -> bool:
    """Send `task_name(*ids)`; return False (and log) when the broker cannot take it."""
    try:
        celery.send_task(task_name, args=list(ids), queue=queue, retry=False)
    except Exception as exc:  # kombu raises many kinds; any of them means "not sent"
        log.warning("event=enqueue_failed task=%s ids=%s error=%s", task_name, ids, type(exc).__name__)
        return False
    return True
