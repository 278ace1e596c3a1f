"""Street leads: a reporter's sighting → face check → dispatch of a team → an outcome (maybe an arrival).

A reporter sees their own leads and, of the face check, only whether the person is known to the station.
Staff of the lead's station see everything, candidates included, and dispatch teams.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, false, select
from sqlalchemy.exc import IntegrityError

from .. import tasking
from ..domain import leads as lead_rules
from ..domain.deadlines import CHINA_TZ
from ..domain.errors import Conflict, InvalidValue, NotFound
from ..extensions import db
from ..formats.fields import LEAD_FIELDS
from ..formats.values import parse_fields
from ..matching import faces
from ..models import Campaign, Case, CaseEvent, Lead, Photo, Station, User
from ..models.types import utcnow
from . import audit
from .queueing import queue_photos
from .intake import (LEAD_KEY_PREFIX, StorageFull, Upload, attach_photos, build_arrival, check_uploads,
                     commit_discarding, replayed_case, rollback_discarding)

log = logging.getLogger(__name__)

MAX_PHOTOS = 3
REPORT_FIELDS = tuple(name for name in LEAD_FIELDS if name != "urgency")  # the form's single values (urgency: a list)
MAX_TEXT = 2000
SEEN_AT_PAST = timedelta(days=7)  # a lead is about now: older sightings belong to a phone call
SEEN_AT_FUTURE = timedelta(minutes=10)  # a phone clock a little ahead is fine


@dataclass
class Report:
    lead: Lead
    created: bool
    queued: bool


def _text(raw: dict, name: str, limit: int) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValue(f"{name} must be text", name)
    value = value.strip()
    if len(value) > limit:
        raise InvalidValue(f"{name} is longer than {limit} characters", name)
    return value or None


def _accuracy_within_bounds(raw: dict) -> dict:
    """A GPS accuracy outside the spec's bounds is stored at the bound, not refused: a phone's poor fix must not
    cost the lead. What is not a number is left for the spec to refuse."""
    value, spec = raw.get("accuracy_m"), LEAD_FIELDS["accuracy_m"]
    try:
        number = None if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        number = None
    return raw if number is None else {**raw, "accuracy_m": max(spec.lo, min(number, spec.hi))}


def active_campaign(station_id: int, at: datetime) -> Campaign | None:
    day = at.astimezone(CHINA_TZ).date()
    return db.session.scalar(
        select(Campaign).where(Campaign.station_id == station_id, Campaign.starts_on <= day, Campaign.ends_on >= day)
        .order_by(Campaign.starts_on.desc(), Campaign.id.desc()).limit(1)
    )


def report_lead(actor: User, raw: dict, uploads: list[Upload], settings, idempotency_key: str | None = None,
                ip: str | None = None, now: datetime | None = None) -> Report:
    """Keep a sighting with its photos in one transaction, then queue the photos for the face check."""
    now = now or utcnow()
    key = (idempotency_key or "").strip()[:64] or None
    if key:
        existing = db.session.scalar(select(Lead).where(Lead.idempotency_key == key))
        if existing is not None:
            if existing.reporter_id != actor.id:
                raise Conflict("this key was used for another report", "idempotency_key")
            return Report(existing, created=False, queued=True)
    if actor.station_id is None:
        raise InvalidValue("this user belongs to no station", "station")
    # A reporter's source is their account's (a volunteer cannot file as police): theirs is not read. Staff may say.
    staff = actor.has_role("staff")
    values = parse_fields(LEAD_FIELDS, {k: v for k, v in _accuracy_within_bounds(raw).items() if staff or k != "source"})
    source = (values.get("source") or "patrol") if staff else (actor.reporter_source or "other")
    if source not in lead_rules.SOURCES:
        raise InvalidValue(f"source must be one of: {', '.join(lead_rules.SOURCES)}", "source")
    seen_at = values.get("seen_at") or now
    if seen_at > now + SEEN_AT_FUTURE or seen_at < now - SEEN_AT_PAST:
        raise InvalidValue("seen_at must be within the last 7 days", "seen_at")
    lat, lng = lead_rules.check_coordinates(values.get("lat"), values.get("lng"))
    accuracy = values.get("accuracy_m")
    place = values.get("place")
    if place is None and lat is None:
        raise InvalidValue("give the GPS position or type the place", "place")
    description = values.get("description")
    flags = values.get("urgency") or []
    if len(uploads) > MAX_PHOTOS:
        raise InvalidValue(f"at most {MAX_PHOTOS} photos per lead", "photos")
    checked = check_uploads(uploads, settings)

    campaign = active_campaign(actor.station_id, now)
    lead = Lead(
        station_id=actor.station_id, reporter_id=actor.id, source=source, idempotency_key=key, seen_at=seen_at,
        reported_at=now, place=place, lat=lat, lng=lng, accuracy_m=accuracy, description=description,
        urgency=flags, status="open", face_check="pending" if checked else "no_face",
        campaign_id=campaign.id if campaign else None,
    )
    db.session.add(lead)
    try:
        photos, written = attach_photos(lead, checked, actor, settings.media_dir)
    except StorageFull:
        db.session.rollback()
        raise
    try:
        db.session.flush()
        audit.record(actor.id, "lead.create", "lead", lead.id, {"photos": len(photos), "urgency": flags}, ip)
        db.session.commit()
    except IntegrityError:
        rollback_discarding(written)
        if key:  # the same report sent twice at once (a resumed upload): answer with the first
            existing = db.session.scalar(select(Lead).where(Lead.idempotency_key == key))
            if existing is not None and existing.reporter_id == actor.id:
                return Report(existing, created=False, queued=True)
        raise
    except BaseException:
        rollback_discarding(written)
        raise
    log.info("event=lead_reported lead_id=%s photos=%d urgency=%s", lead.id, len(photos), ",".join(flags) or "-")
    return Report(lead, created=True, queued=queue_photos([p.id for p in photos]))


# --- who sees what -------------------------------------------------------------------------------

def visible_leads(actor: User) -> Select:
    """Reporters: their own leads. Staff and supervisors: their station's. Admins: all."""
    query = select(Lead)
    if actor.role == "admin":
        return query
    if actor.has_role("staff"):
        return query.where(Lead.station_id == actor.station_id)
    if actor.role == "reporter":
        return query.where(Lead.reporter_id == actor.id)
    return query.where(false())


def get_lead(actor: User, lead_id: int) -> Lead:
    lead = db.session.scalar(visible_leads(actor).where(Lead.id == lead_id))
    if lead is None:
        raise NotFound(f"lead {lead_id} not found")
    return lead


REPORTER_MESSAGES = {
    "pending": "checking",
    "known": "known to the station: staff will call",
    "not_known": "not known to the station yet",
    "no_face": "no face to check",
}


def reporter_view(lead: Lead) -> dict:
    """All a reporter may know of a lead: never a name, a photo, a case or a report."""
    return {
        "id": lead.id,
        "reported_at": lead.reported_at,
        "seen_at": lead.seen_at,
        "place": lead.place,
        "lat": lead.lat,
        "lng": lead.lng,
        "urgency": list(lead.urgency or []),
        "status": lead.status,
        "outcome": lead.outcome if lead.outcome != "duplicate" else "closed",
        "face_check": lead.face_check,
        "face_check_message": REPORTER_MESSAGES[lead.face_check],
        "photos": len(lead.photos),
    }


def with_photos(query: Select) -> Select:
    """Lists show each lead's photo count: load the photos in one statement, not one per lead."""
    from sqlalchemy.orm import selectinload

    return query.options(selectinload(Lead.photos))


def open_leads(actor: User, now: datetime | None = None) -> list[Lead]:
    """Open, assigned and on-site leads, most urgent first (danger flags, then waiting time)."""
    now = now or utcnow()
    rows = db.session.scalars(with_photos(visible_leads(actor).where(Lead.status != "closed"))).all()
    return sorted(rows, key=lambda lead: -lead_rules.urgency_score(lead.urgency or [], lead.reported_at, now))


def recent_closed(actor: User, limit: int = 50) -> list[Lead]:
    return list(db.session.scalars(visible_leads(actor).where(Lead.status == "closed")
                                   .order_by(Lead.closed_at.desc()).limit(limit)))


# --- dispatch -------------------------------------------------------------------------------------

def _locked(actor: User, lead_id: int) -> Lead:
    lead = db.session.scalar(visible_leads(actor).where(Lead.id == lead_id).with_for_update()
                             .execution_options(populate_existing=True))
    if lead is None:
        raise NotFound(f"lead {lead_id} not found")
    return lead


def assign(actor: User, lead_id: int, team: str | None, ip: str | None = None, now: datetime | None = None) -> Lead:
    lead = _locked(actor, lead_id)
    team = _text({"team": team}, "team", 80)
    if not team:
        raise InvalidValue("name the patrol team", "team")
    lead_rules.check_transition(lead.status, "assigned")
    lead.status, lead.team, lead.assigned_by_id = "assigned", team, actor.id
    lead.assigned_at = lead.assigned_at or now or utcnow()  # re-assigning keeps the first dispatch time
    audit.record(actor.id, "lead.assign", "lead", lead.id, {"team": team}, ip)
    db.session.commit()
    return lead


def mark_on_site(actor: User, lead_id: int, ip: str | None = None, now: datetime | None = None) -> Lead:
    lead = _locked(actor, lead_id)
    lead_rules.check_transition(lead.status, "on_site")
    lead.status, lead.on_site_at = "on_site", now or utcnow()
    audit.record(actor.id, "lead.on_site", "lead", lead.id, None, ip)
    db.session.commit()
    return lead


def close(actor: User, lead_id: int, outcome: str | None, note: str | None = None, ip: str | None = None,
          now: datetime | None = None) -> Lead:
    """Close a lead that did not become an arrival (refused help, not found, referred...)."""
    lead = _locked(actor, lead_id)
    if outcome not in lead_rules.OUTCOMES:
        raise InvalidValue(f"outcome must be one of: {', '.join(lead_rules.OUTCOMES)}", "outcome")
    if outcome == "brought_in":
        raise InvalidValue("a person brought in is registered as an arrival from the lead", "outcome")
    lead_rules.check_transition(lead.status, "closed")
    lead.status, lead.outcome, lead.closed_at = "closed", outcome, now or utcnow()
    lead.outcome_note = _text({"note": note}, "note", MAX_TEXT)
    audit.record(actor.id, "lead.close", "lead", lead.id, {"outcome": outcome}, ip)
    db.session.commit()
    return lead


def arrival_fields(lead: Lead) -> dict:
    """The intake form's fields pre-filled from the lead (staff check and complete them)."""
    referral = "patrol" if lead.source == "patrol" else "police" if lead.source == "police" else "citizen"
    categories = [c for c, flag in (("minor", "minor"), ("elderly", "elderly"), ("ill", "injured"),
                                    ("mental_illness", "mental")) if flag in (lead.urgency or [])]
    return {
        "found_at": lead.seen_at.astimezone(CHINA_TZ).strftime("%Y-%m-%dT%H:%M"),
        "found_place": lead.place or (f"{lead.lat:.5f}, {lead.lng:.5f}" if lead.lat is not None else ""),
        "found_lat": lead.lat,
        "found_lng": lead.lng,
        "referral": referral,
        "description": lead.description or "",
        "categories": categories,
    }


def convert_to_arrival(actor: User, lead_id: int, raw_fields: dict, extra_uploads: list[Upload], settings,
                       ip: str | None = None, now: datetime | None = None) -> tuple[Case, bool]:
    """The person was brought in: register the arrival from the lead and close the lead, in one transaction.

    The lead's photos and their faces change hands as they are (same rows, same normalised files and crops:
    nothing is read back, stored or processed again); staff's extra photos are processed as at any intake.
    The lead's row lock is held to the commit, so a concurrent close or a second click waits and then
    finds the lead closed or converted. Idempotent: a retry answers with the same case.
    """
    lead = _locked(actor, lead_id)
    if lead.case_id is not None:
        case = db.session.get(Case, lead.case_id)
        db.session.rollback()
        return case, False
    if lead.status == "closed":
        raise Conflict(f"lead {lead.id} is closed ({lead.outcome})", "status")
    for name in ("state", "station_code"):
        if raw_fields.get(name) is not None and not isinstance(raw_fields[name], str):
            raise InvalidValue(f"{name} must be text", name)
    prefilled = {k: v for k, v in arrival_fields(lead).items() if v not in (None, "", [])}
    fields = {**prefilled, **{k: v for k, v in raw_fields.items() if v not in (None, "") or k not in prefilled}}
    fields["station_code"] = lead_station_code(lead)  # the lead's station, also when an admin registers it
    key = f"{LEAD_KEY_PREFIX}{lead.id}"
    # An arrival registered before the lead was linked to it (by an earlier release): link it now.
    case, arrival = replayed_case(actor, key), None
    if case is None:
        photos = list(db.session.scalars(
            select(Photo).where(Photo.lead_id == lead.id).order_by(Photo.id).with_for_update()
            .execution_options(populate_existing=True)))
        arrival = build_arrival(actor, fields, extra_uploads, settings, key, ip, handed_over=photos)
        case = arrival.case
        faces.follow_photos(photos)
    when = now or utcnow()
    lead.case_id = case.id
    lead.status, lead.outcome, lead.closed_at = "closed", "brought_in", when
    # Brought in means the team was there: at the latest now, if nobody pressed "on site".
    lead.on_site_at = lead.on_site_at or when
    case.events.append(_lead_event(case.id, actor, lead))
    audit.record(actor.id, "lead.brought_in", "lead", lead.id, {"case_id": case.id}, ip)
    commit_discarding(arrival.written if arrival else [])
    log.info("event=lead_brought_in lead_id=%s case_id=%s", lead.id, case.id)
    if arrival is not None:
        # The case's faces are the lead's, already encoded: match them now. New photos match when processed.
        tasking.enqueue(tasking.MATCH_CASE, case.id)
        queue_photos([p.id for p in arrival.photos])
    return case, arrival is not None


def lead_station_code(lead: Lead) -> str:
    return db.session.get(Station, lead.station_id).code


def _lead_event(case_id: int, actor: User, lead: Lead) -> CaseEvent:
    return CaseEvent(case_id=case_id, kind="from_lead", user_id=actor.id,
                     data={"lead_id": lead.id, "source": lead.source, "reported_at": lead.reported_at.isoformat()})


def response_times(lead: Lead, arrived_at: datetime | None = None) -> lead_rules.Times:
    return lead_rules.Times(reported_at=lead.reported_at, assigned_at=lead.assigned_at, on_site_at=lead.on_site_at,
                            arrived_at=arrived_at, closed_at=lead.closed_at)


def lead_photo(actor: User, photo_id: int) -> Photo:
    photo = db.session.get(Photo, photo_id)
    if photo is None or photo.lead_id is None:
        raise NotFound(f"photo {photo_id} not found")
    get_lead(actor, photo.lead_id)
    return photo
