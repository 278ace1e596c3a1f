"""Face data on record: how many people are enrolled, privacy alerts, and each station's processing record.

人脸识别技术应用安全管理办法 (2025): a record of processing and an impact assessment per processor, filing
with the provincial cyberspace office once 100,000 people's faces are stored. OWASP ASVS 8.1.4: unusual
face-search volume of one account is told to the admins (on top of the rate limits of lead reports).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from limits import parse_many
from sqlalchemy import func, or_, select

from ..domain import biometrics
from ..domain.errors import InvalidValue
from ..extensions import db
from ..models import (AuditEntry, CandidateMatch, Case, Face, GalleryReport, Lead, PrivacyAlert, ProcessingRecord,
                      Station, User)
from ..models.types import utcnow
from . import alerts, audit

log = logging.getLogger(__name__)

# What makes a face search, in the audit trail: a photo of the account's whose faces were enrolled (and so
# searched: matching.enrolment), and a face staff chose on a photo (searched again).
FACE_SEARCH_ACTIONS = ("face.search", "photo.face_choose")


def _enrolled(kind: str, owner_id_column):
    return select(Face.id).where(Face.owner_kind == kind, Face.owner_id == owner_id_column,
                                 Face.template_id.is_not(None)).exists()


def enrolled_records() -> int:
    """Cases, reports and leads with at least one face template."""
    owners = select(Face.owner_kind, Face.owner_id).where(Face.template_id.is_not(None)).distinct().subquery()
    return db.session.scalar(select(func.count()).select_from(owners)) or 0


def enrolled_people() -> int:
    """Distinct people with face templates: records known to be one person (a confirmed match, a lead that
    became the arrival) count once."""
    links = []
    confirmed = db.session.execute(
        select(CandidateMatch.case_id, CandidateMatch.report_id, CandidateMatch.other_case_id).where(
            CandidateMatch.status == "confirmed", _enrolled("case", CandidateMatch.case_id),
            or_(_enrolled("report", CandidateMatch.report_id), _enrolled("case", CandidateMatch.other_case_id)))
    ).all()
    for case_id, report_id, other_case_id in confirmed:
        links.append((("case", case_id), ("report", report_id) if report_id is not None else ("case", other_case_id)))
    converted = db.session.execute(select(Lead.id, Lead.case_id).where(
        Lead.case_id.is_not(None), _enrolled("lead", Lead.id), _enrolled("case", Lead.case_id))).all()
    links.extend((("lead", lead_id), ("case", case_id)) for lead_id, case_id in converted)
    return biometrics.distinct_people(enrolled_records(), links)


def enrolled_by_station() -> dict[int | None, int]:
    """Records with face templates per station (reports filed without a station under None)."""
    counts: dict[int | None, int] = {}
    for kind, model in (("case", Case), ("report", GalleryReport), ("lead", Lead)):
        rows = db.session.execute(
            select(model.station_id, func.count(func.distinct(Face.owner_id)))
            .select_from(Face).join(model, model.id == Face.owner_id)
            .where(Face.owner_kind == kind, Face.template_id.is_not(None))
            .group_by(model.station_id)
        ).all()
        for station_id, n in rows:
            counts[station_id] = counts.get(station_id, 0) + n
    return counts


# -- alerts

def _raise(key: str, kind: str, detail: dict, user_id: int | None = None, station_id: int | None = None) -> PrivacyAlert | None:
    """One alert per key, however often the watch runs."""
    if db.session.scalar(select(PrivacyAlert.id).where(PrivacyAlert.key == key)) is not None:
        return None
    alert = PrivacyAlert(key=key, kind=kind, detail=detail, user_id=user_id, station_id=station_id)
    db.session.add(alert)
    log.warning("event=privacy_alert kind=%s key=%s user_id=%s detail=%s", kind, key, user_id, detail)
    return alert


def check_enrolment(settings) -> list[PrivacyAlert]:
    people, threshold = enrolled_people(), settings.enrolment_alert_threshold
    if people < threshold:
        return []
    alert = _raise(f"enrolment:{threshold}", "enrolment_threshold", {"people": people, "threshold": threshold})
    return [alert] if alert else []


def face_search_limits(spec: str) -> list[tuple[int, int]]:
    """(amount, seconds) of each limit in Flask-Limiter syntax: '40 per hour; 150 per day'."""
    try:
        return [(item.amount, item.get_expiry()) for item in parse_many(spec)]
    except ValueError as exc:
        raise InvalidValue(f"face-search alert limits: {exc}", "HUIJIA_FACE_SEARCH_ALERT") from exc


def face_searches(user_id: int, since: datetime) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.user_id == user_id, AuditEntry.action.in_(FACE_SEARCH_ACTIONS), AuditEntry.at >= since)) or 0


def check_face_searches(settings, now: datetime) -> list[PrivacyAlert]:
    """Accounts over a limit in the window ending now; one alert per account, limit and window period."""
    raised = []
    for amount, seconds in face_search_limits(settings.face_search_alert):
        since = now - timedelta(seconds=seconds)
        over = db.session.execute(
            select(AuditEntry.user_id, func.count()).where(AuditEntry.action.in_(FACE_SEARCH_ACTIONS), AuditEntry.at >= since,
                                                           AuditEntry.user_id.is_not(None))
            .group_by(AuditEntry.user_id).having(func.count() > amount)
        ).all()
        period = int(now.timestamp()) // seconds
        for user_id, count in over:
            user = db.session.get(User, user_id)
            alert = _raise(f"face_search:{user_id}:{amount}/{seconds}:{period}", "face_search_volume",
                           {"searches": count, "limit": amount, "seconds": seconds,
                            "username": user.username if user else None, "role": user.role if user else None},
                           user_id=user_id, station_id=user.station_id if user else None)
            if alert:
                raised.append(alert)
    return raised


def watch(settings, now: datetime | None = None, notifier: alerts.Notifier | None = None) -> dict:
    """The beat job: raise what is new, tell the admins (e-mail when configured, the log always)."""
    now = now or utcnow()
    raised = check_enrolment(settings) + check_face_searches(settings, now)
    db.session.commit()
    if raised:
        recipients = [u.email for u in db.session.scalars(
            select(User).where(User.role == "admin", User.active.is_(True))) if u.email]
        lines = [f"{a.kind}: {a.detail}" for a in raised]
        (notifier or alerts.notifier_for(settings)).send(f"Huijia: {len(raised)} privacy alert(s)", "\n".join(lines),
                                                         recipients)
        for alert in raised:
            alert.notified_at = now
        db.session.commit()
    return {"raised": len(raised)}


def open_privacy_alerts() -> list[PrivacyAlert]:
    return db.session.scalars(select(PrivacyAlert).where(PrivacyAlert.resolved_at.is_(None))
                              .order_by(PrivacyAlert.found_at.desc())).all()


def resolve_alert(actor: User, alert_id: int, note: str | None, ip: str | None = None) -> PrivacyAlert:
    from ..domain.errors import NotFound

    alert = db.session.get(PrivacyAlert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    if alert.resolved_at is None:
        alert.resolved_at, alert.resolved_by_id = utcnow(), actor.id
        alert.note = (note or "").strip()[:2000] or None
        audit.record(actor.id, "privacy_alert.resolve", "privacy_alert", alert.id, {"kind": alert.kind}, ip)
        db.session.commit()
    return alert


# -- processing records

TEXT_FIELDS = {"controller": 200, "responsible_person": 80, "contact": 120, "purpose": 4000, "legal_basis": 4000,
               "data_categories": 4000, "retention": 4000, "recipients": 4000, "security_measures": 4000,
               "assessment_reference": 120, "filing_reference": 120}
DATE_FIELDS = ("assessed_on", "review_due_on", "filed_on")
RECORD_FIELDS = (*TEXT_FIELDS, *DATE_FIELDS)


@dataclass
class StationRecord:
    station: Station
    record: ProcessingRecord | None
    enrolled: int

    @property
    def review_overdue(self) -> bool:
        due = self.record.review_due_on if self.record else None
        return due is not None and due < utcnow().date()


def record_of(station_id: int) -> ProcessingRecord | None:
    return db.session.scalar(select(ProcessingRecord).where(ProcessingRecord.station_id == station_id))


def station_records() -> list[StationRecord]:
    enrolled = enrolled_by_station()
    records = {r.station_id: r for r in db.session.scalars(select(ProcessingRecord))}
    return [StationRecord(s, records.get(s.id), enrolled.get(s.id, 0))
            for s in db.session.scalars(select(Station).order_by(Station.code))]


def _clean(raw: dict) -> dict:
    values = {}
    for name, limit in TEXT_FIELDS.items():
        value = (raw.get(name) or "").strip()
        if len(value) > limit:
            raise InvalidValue(f"at most {limit} characters", name)
        values[name] = value or None
    for name in DATE_FIELDS:
        value = (raw.get(name) or "").strip()
        try:
            values[name] = date.fromisoformat(value) if value else None
        except ValueError as exc:
            raise InvalidValue("a date is YYYY-MM-DD", name) from exc
    return values


def save_record(actor: User, station: Station, raw: dict, ip: str | None = None) -> ProcessingRecord:
    """Create or change a station's processing record (admins); the change is audited field by field."""
    values = _clean(raw)
    record = record_of(station.id)
    if record is None:
        record = ProcessingRecord(station_id=station.id)
        db.session.add(record)
    changed = sorted(name for name, value in values.items() if getattr(record, name) != value)
    for name, value in values.items():
        setattr(record, name, value)
    record.updated_by_id = actor.id
    audit.record(actor.id, "processing_record.update", "station", station.id, {"fields": changed}, ip)
    db.session.commit()
    return record
