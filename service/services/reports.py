"""Missing-person reports: register one (with photos), read, list; photos queued like a case's."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import false, func, or_, select

from ..domain.errors import InvalidValue, NotFound
from ..extensions import db
from ..models import GalleryReport, Photo, User
from ..models.types import utcnow
from . import audit
from ..formats.fields import parse_report_fields
from .queueing import queue_photos
from .intake import Upload, check_uploads, rollback_discarding
from ..media import EXTENSIONS, store

STATUSES = ("open", "found", "closed")
MAX_PER_PAGE = 200


def visible_reports(actor: User):
    """The gallery is shared by every station: a missing person may turn up anywhere (not with reporters)."""
    if not actor.has_role("staff"):
        return select(GalleryReport).where(false())
    return select(GalleryReport)


def get_report(actor: User, report_id: int) -> GalleryReport:
    report = db.session.scalar(visible_reports(actor).where(GalleryReport.id == report_id))
    if report is None:
        raise NotFound(f"report {report_id} not found")
    return report


def list_reports(actor: User, status: str | None, q: str | None, page: int = 1, per_page: int = 50):
    if status and status not in STATUSES:
        raise InvalidValue(f"status must be one of: {', '.join(STATUSES)}", "status")
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidValue(f"page ≥ 1 and per_page between 1 and {MAX_PER_PAGE}", "per_page")
    query = visible_reports(actor)
    if status:
        query = query.where(GalleryReport.status == status)
    if q:
        like = f"%{q.strip().replace('%', '')}%"
        query = query.where(or_(GalleryReport.name.ilike(like), GalleryReport.missing_place.ilike(like),
                                GalleryReport.hometown.ilike(like)))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = db.session.scalars(
        query.order_by(GalleryReport.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return list(items), total


@dataclass
class NewReport:
    report: GalleryReport
    created: bool
    queued: bool


def create_report(actor: User, raw: dict, uploads: list[Upload], settings, ip: str | None = None,
                  extra: dict | None = None, commit: bool = True) -> NewReport:
    """Register a report; with (source, external_id) set, the same report twice is one row."""
    values = parse_report_fields(raw)
    values.setdefault("source", "family")
    values["source"] = values["source"] or "family"
    if values.get("external_id"):
        existing = db.session.scalar(select(GalleryReport).where(
            GalleryReport.source == values["source"], GalleryReport.external_id == values["external_id"]))
        if existing is not None:
            return NewReport(existing, created=False, queued=True)
    checked = check_uploads(uploads, settings)
    report = GalleryReport(status="open", created_by_id=actor.id, station_id=actor.station_id, gender="unknown",
                           extra=extra or None, matching_status="pending" if checked else "done")
    for field, value in values.items():
        setattr(report, field, value)
    report.gender = report.gender or "unknown"
    db.session.add(report)
    written = []
    seen = set()
    try:
        for photo in checked:
            if photo.sha256 in seen:
                continue
            seen.add(photo.sha256)
            path, new = store(settings.media_dir, photo.sha256, EXTENSIONS[photo.mime], photo.data)
            if new:
                written.append(path)
            report.photos.append(Photo(sha256=photo.sha256, mime=photo.mime, size_bytes=len(photo.data),
                                       width=photo.width, height=photo.height, status="pending",
                                       uploaded_by_id=actor.id, queued_at=utcnow(), meta={"filename": photo.filename}))
        db.session.flush()
        audit.record(actor.id, "report.create", "report", report.id, {"photos": len(seen)}, ip)
        if commit:
            db.session.commit()
    except BaseException:
        rollback_discarding(written)
        raise
    queued = queue_photos([p.id for p in report.photos]) if commit else True
    if commit and seen and queued:  # the broker just took the photos (else the clue sweep finds the report)
        from .clues import queue_report

        queue_report(report.id)  # description candidates among the cases still searched for
    return NewReport(report, created=True, queued=queued)
