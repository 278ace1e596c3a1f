"""The safety net: re-send work whose message was lost (broker down, worker killed holding it)."""
from __future__ import annotations

import logging

from .. import tasking
from ..matching import photos
from . import uploads

log = logging.getLogger(__name__)


def sweep(settings) -> int:
    """Re-queue pending photos and unfinished matching older than the sweep age; return how many."""
    after = settings.pending_photo_sweep_seconds
    photo_ids = photos.stale_pending_photos(after)
    if photo_ids:
        photos.queue_photos(photo_ids)
        log.info("event=sweep_requeued count=%d", len(photo_ids))
    case_ids, report_ids = photos.stale_matching(after)
    lead_ids = photos.stale_lead_checks(after)
    for task, ids in ((tasking.MATCH_CASE, case_ids), (tasking.MATCH_REPORT, report_ids), (tasking.MATCH_LEAD, lead_ids)):
        for owner_id in ids:
            tasking.enqueue(task, owner_id)
    if case_ids or report_ids or lead_ids:
        log.info("event=sweep_rematch cases=%d reports=%d leads=%d", len(case_ids), len(report_ids), len(lead_ids))
    uploads.sweep(settings)  # chunked photo uploads nobody finished within a day
    return len(photo_ids) + len(case_ids) + len(report_ids) + len(lead_ids)
