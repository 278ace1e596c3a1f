"""Special campaigns (寒潮/高温专项救助), patrol runs, and the response numbers of street leads."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from ..domain import leads as lead_rules
from ..domain.deadlines import CHINA_TZ
from ..domain.errors import InvalidValue, NotFound
from ..extensions import db
from ..models import Campaign, Case, Lead, PatrolRun, User
from ..models.types import utcnow
from ..formats.fields import CAMPAIGN_FIELDS, PATROL_FIELDS
from ..formats.sheets import table_csv
from ..formats.values import parse_fields
from . import audit
from .cases import visible_cases
from .leads import response_times, visible_leads


def visible_campaigns(actor: User):
    query = select(Campaign)
    if actor.role != "admin":
        query = query.where(Campaign.station_id == actor.station_id)
    return query


def get_campaign(actor: User, campaign_id: int) -> Campaign:
    campaign = db.session.scalar(visible_campaigns(actor).where(Campaign.id == campaign_id))
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return campaign


def list_campaigns(actor: User) -> list[Campaign]:
    return list(db.session.scalars(visible_campaigns(actor).order_by(Campaign.starts_on.desc(), Campaign.id.desc())))


def open_campaign(actor: User, raw: dict, ip: str | None = None) -> Campaign:
    """A supervisor opens a campaign; leads reported during it are tagged with it."""
    if actor.station_id is None:
        raise InvalidValue("a campaign belongs to a station: this user has none", "station")
    values = parse_fields(CAMPAIGN_FIELDS, raw)
    if not values.get("name"):
        raise InvalidValue("give the campaign a name", "name")
    kind = values.get("kind") or "other"
    starts_on, ends_on = values.get("starts_on"), values.get("ends_on")
    lead_rules.check_campaign_dates(starts_on, ends_on)
    campaign = Campaign(station_id=actor.station_id, name=values["name"], kind=kind, starts_on=starts_on,
                        ends_on=ends_on, area=values.get("area"), note=values.get("note"), created_by_id=actor.id)
    db.session.add(campaign)
    db.session.flush()
    # Leads and patrols already inside the dates (the campaign opened a day late) count too.
    start, end_before = _start(starts_on), _start(ends_on + timedelta(days=1))
    for model, moment in ((Lead, Lead.reported_at), (PatrolRun, PatrolRun.started_at)):
        for row in db.session.scalars(select(model).where(model.station_id == campaign.station_id, model.campaign_id.is_(None),
                                                          moment >= start, moment < end_before)):
            row.campaign_id = campaign.id
    audit.record(actor.id, "campaign.open", "campaign", campaign.id, {"kind": kind}, ip)
    db.session.commit()
    return campaign


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=CHINA_TZ)


def log_patrol(actor: User, raw: dict, ip: str | None = None, now: datetime | None = None) -> PatrolRun:
    """A street patrol run (街面巡查): team, area, when, people contacted and brought in."""
    now = now or utcnow()
    if actor.station_id is None:
        raise InvalidValue("a patrol belongs to a station: this user has none", "station")
    values = parse_fields(PATROL_FIELDS, raw)
    if not values.get("team"):
        raise InvalidValue("name the patrol team", "team")
    started_at = values.get("started_at") or now
    ended_at = values.get("ended_at")
    if ended_at is not None and ended_at < started_at:
        raise InvalidValue("the patrol ends before it starts", "ended_at")
    counts = {name: values.get(name) or 0 for name in ("people_contacted", "people_brought_in")}
    if counts["people_brought_in"] > counts["people_contacted"]:
        raise InvalidValue("more people brought in than contacted", "people_brought_in")
    from .leads import active_campaign

    campaign = active_campaign(actor.station_id, started_at)
    run = PatrolRun(station_id=actor.station_id, team=values["team"], area=values.get("area"), started_at=started_at,
                    ended_at=ended_at, note=values.get("note"), created_by_id=actor.id,
                    campaign_id=campaign.id if campaign else None, **counts)
    db.session.add(run)
    db.session.flush()
    audit.record(actor.id, "patrol.log", "patrol_run", run.id, None, ip)
    db.session.commit()
    return run


def recent_patrols(actor: User, limit: int = 30) -> list[PatrolRun]:
    query = select(PatrolRun)
    if actor.role != "admin":
        query = query.where(PatrolRun.station_id == actor.station_id)
    return list(db.session.scalars(query.order_by(PatrolRun.started_at.desc()).limit(limit)))


# --- numbers --------------------------------------------------------------------------------------

def lead_numbers(leads: list[Lead], now: datetime) -> dict:
    """Response numbers of some leads: one-hour share, medians, by source, by outcome."""
    arrived = dict(db.session.execute(select(Case.id, Case.arrived_at).where(
        Case.id.in_([lead.case_id for lead in leads if lead.case_id]))).all()) if any(lead.case_id for lead in leads) else {}
    counted = [lead for lead in leads if lead.outcome != "duplicate"]  # one person, one report in the times
    stats = lead_rules.response_stats([response_times(lead, arrived.get(lead.case_id)) for lead in counted], now)
    return {
        "leads": stats.leads,
        "answered_within_hour": stats.within_hour,
        "decided": stats.decided,
        "share_within_hour": stats.share_within_hour,
        "median_minutes_to_on_site": stats.median_minutes_to_on_site,
        "median_minutes_to_arrival": stats.median_minutes_to_arrival,
        "by_source": dict(sorted(Counter(lead.source for lead in leads).items())),
        "by_outcome": dict(sorted(Counter(lead.outcome or "open" for lead in leads).items())),
        "brought_in": sum(1 for lead in leads if lead.outcome == "brought_in"),
    }


def leads_between(actor: User, start: datetime, end_before: datetime, station_id: int | None = None) -> list[Lead]:
    query = visible_leads(actor).where(Lead.reported_at >= start, Lead.reported_at < end_before)
    if station_id is not None:
        query = query.where(Lead.station_id == station_id)
    return list(db.session.scalars(query))


def lead_summary(actor: User, start: datetime, end_before: datetime, station_id: int | None = None,
                 now: datetime | None = None) -> dict:
    """The street-lead part of the dashboard and GET /api/v1/stats, with one row per campaign in range."""
    now = now or utcnow()
    leads = leads_between(actor, start, end_before, station_id)
    per_campaign = []
    campaigns = visible_campaigns(actor).where(Campaign.starts_on < end_before.astimezone(CHINA_TZ).date(),
                                               Campaign.ends_on >= start.astimezone(CHINA_TZ).date())
    if station_id is not None:
        campaigns = campaigns.where(Campaign.station_id == station_id)
    for campaign in db.session.scalars(campaigns.order_by(Campaign.starts_on)):
        numbers = lead_numbers([lead for lead in leads if lead.campaign_id == campaign.id], now)
        per_campaign.append({"campaign_id": campaign.id, "name": campaign.name, "kind": campaign.kind,
                             **{k: numbers[k] for k in ("leads", "share_within_hour", "median_minutes_to_on_site", "brought_in")}})
    return {**lead_numbers(leads, now), "campaigns": per_campaign}


def campaign_report(actor: User, campaign: Campaign, now: datetime | None = None) -> dict:
    """Leads, patrols and arrivals during a campaign, counted together."""
    now = now or utcnow()
    start, end_before = _start(campaign.starts_on), _start(campaign.ends_on + timedelta(days=1))
    leads = list(db.session.scalars(visible_leads(actor).where(Lead.campaign_id == campaign.id).order_by(Lead.reported_at)))
    patrols = list(db.session.scalars(select(PatrolRun).where(PatrolRun.campaign_id == campaign.id).order_by(PatrolRun.started_at)))
    arrivals = db.session.execute(
        visible_cases(actor).with_only_columns(Case.referral, Case.is_minor, func.count(Case.id))
        .where(Case.station_id == campaign.station_id, Case.arrived_at >= start, Case.arrived_at < end_before)
        .group_by(Case.referral, Case.is_minor)
    ).all()
    by_referral: Counter = Counter()
    minors = 0
    for referral, is_minor, count in arrivals:
        by_referral[referral or "unknown"] += count
        minors += count if is_minor else 0
    # Of the arrivals in the campaign's days, those that came from a lead (a lead brought in after the last
    # day is the campaign's lead, but not one of its arrivals).
    lead_case_ids = [lead.case_id for lead in leads if lead.case_id]
    from_leads = db.session.scalar(select(func.count(Case.id)).where(
        Case.id.in_(lead_case_ids), Case.arrived_at >= start, Case.arrived_at < end_before)) if lead_case_ids else 0
    return {
        "campaign": {"id": campaign.id, "name": campaign.name, "kind": campaign.kind, "area": campaign.area,
                     "starts_on": campaign.starts_on.isoformat(), "ends_on": campaign.ends_on.isoformat()},
        "leads": lead_numbers(leads, now),
        "patrols": {"runs": len(patrols), "people_contacted": sum(p.people_contacted for p in patrols),
                    "people_brought_in": sum(p.people_brought_in for p in patrols)},
        "arrivals": {"total": sum(by_referral.values()), "from_leads": from_leads, "minors": minors,
                     "by_referral": dict(sorted(by_referral.items()))},
        "lead_rows": leads,
        "patrol_rows": patrols,
    }


CSV_COLUMNS = ("lead_id", "reported_at", "seen_at", "source", "urgency", "place", "lat", "lng", "status", "team",
               "assigned_at", "on_site_at", "closed_at", "outcome", "minutes_to_on_site", "case_no")


def campaign_csv(actor: User, campaign: Campaign) -> tuple[bytes, int]:
    """The campaign's leads, one row each with its response times, as CSV; (file, rows)."""
    lead_rows = campaign_report(actor, campaign)["lead_rows"]
    case_ids = [lead.case_id for lead in lead_rows if lead.case_id]
    case_nos = dict(db.session.execute(select(Case.id, Case.case_no).where(Case.id.in_(case_ids))).all()) if case_ids else {}
    rows = []
    for lead in lead_rows:
        to_site = response_times(lead).to_on_site
        rows.append((lead.id, lead.reported_at, lead.seen_at, lead.source, ",".join(lead.urgency or []), lead.place,
                     lead.lat, lead.lng, lead.status, lead.team, lead.assigned_at, lead.on_site_at, lead.closed_at,
                     lead.outcome, round(to_site.total_seconds() / 60, 1) if to_site else "",
                     case_nos.get(lead.case_id, "")))
    return table_csv(CSV_COLUMNS, rows), len(rows)
