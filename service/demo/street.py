"""The demo station's street work: a cold-wave campaign, street leads with their dispatch times, patrol runs."""
from __future__ import annotations

import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from sqlalchemy import select

from ..domain.deadlines import CHINA_TZ
from ..extensions import db
from ..models import Campaign, Case, Lead, PatrolRun, User
from .people import weighted

LEAD_PLACES = ("河西区友谊路与黑牛城道交口", "南开区鞍山西道天桥下", "和平区滨江道步行街", "天津站后广场",
               "河东区大直沽地铁站", "红桥区西站北广场", "河北区中山路公交站")


def street_leads(builder, count: int) -> None:
    """A cold-wave campaign, patrol runs and street leads with their dispatch times over the last 60 days."""
    rng, now = builder.rng, builder.now
    reporter = db.session.scalar(select(User).where(User.username == f"demo-reporter-{builder.station.code.lower()}"))
    if reporter is None:  # nobody logs in as it: its password is thrown away
        reporter = User(username=f"demo-reporter-{builder.station.code.lower()}", role="reporter", station=builder.station,
                        password_hash=PasswordHasher().hash(secrets.token_urlsafe(24)), reporter_source="volunteer")
        db.session.add(reporter)
    today = now.astimezone(CHINA_TZ).date()
    campaign = Campaign(station_id=builder.station.id, name="寒潮专项救助", kind="cold_wave", area="市内六区",
                        starts_on=today - timedelta(days=30), ends_on=today + timedelta(days=60))
    db.session.add(campaign)
    db.session.flush()
    sources = (("patrol", 5), ("volunteer", 3), ("driver", 2), ("grid_worker", 2), ("citizen", 2))
    for n in range(count):  # the first few came in within the last two hours: the dispatch desk has work
        reported = now - (timedelta(minutes=rng.uniform(5, 120)) if n < 6 else timedelta(days=rng.uniform(0.1, 60)))
        in_campaign = (reported.astimezone(CHINA_TZ).date() >= campaign.starts_on)
        lead = Lead(station_id=builder.station.id, reporter_id=reporter.id, source=weighted(rng, sources),
                    seen_at=reported - timedelta(minutes=rng.randint(0, 20)), reported_at=reported,
                    place=rng.choice(LEAD_PLACES), lat=39.12 + rng.uniform(-0.06, 0.06), lng=117.20 + rng.uniform(-0.08, 0.08),
                    urgency=[flag for flag, chance in (("injured", 0.15), ("cold", 0.5 if in_campaign else 0.1), ("elderly", 0.3))
                             if rng.random() < chance],
                    description="路人反映有人在此长时间滞留", face_check="no_face",
                    campaign_id=campaign.id if in_campaign else None)
        age_min = (now - reported).total_seconds() / 60
        if age_min > 30 or rng.random() < 0.5:
            lead.status, lead.team = "assigned", rng.choice(("巡查一组", "巡查二组", "夜间巡查组"))
            lead.assigned_at = reported + timedelta(minutes=rng.uniform(3, 15))
            to_site = rng.uniform(15, 55) if rng.random() < 0.8 else rng.uniform(61, 150)
            if age_min > to_site:
                lead.status, lead.on_site_at = "on_site", reported + timedelta(minutes=to_site)
                if age_min > to_site + 30:
                    lead.status, lead.closed_at = "closed", lead.on_site_at + timedelta(minutes=30)
                    lead.outcome = weighted(rng, (("refused_help", 4), ("not_found", 2), ("referred_hospital", 1),
                                                   ("referred_police", 1)))
        db.session.add(lead)
    # Some arrivals of the last two months came in from a lead: reported, team on site, brought in.
    recent = db.session.scalars(select(Case).where(Case.station_id == builder.station.id,
                                                   Case.arrived_at > now - timedelta(days=60)).order_by(Case.id).limit(12))
    for case in recent:
        arrived = case.arrived_at
        reported = arrived - timedelta(minutes=rng.uniform(40, 150))
        on_site = reported + timedelta(minutes=rng.uniform(12, 50) if rng.random() < 0.85 else rng.uniform(61, 100))
        on_site = min(on_site, arrived - timedelta(minutes=5))
        db.session.add(Lead(station_id=builder.station.id, reporter_id=reporter.id, source=weighted(rng, sources),
                            seen_at=reported - timedelta(minutes=5), reported_at=reported, place=case.found_place,
                            lat=case.found_lat, lng=case.found_lng, urgency=["cold"] if rng.random() < 0.5 else [],
                            status="closed", team="巡查一组", assigned_at=reported + timedelta(minutes=6),
                            on_site_at=on_site, closed_at=arrived, outcome="brought_in", case_id=case.id,
                            face_check="no_face", campaign_id=campaign.id if arrived.astimezone(CHINA_TZ).date() >= campaign.starts_on else None))
        count += 1
    for day in range(0, 60, 3):
        start = now - timedelta(days=day, hours=rng.uniform(2, 6))
        db.session.add(PatrolRun(station_id=builder.station.id, team=rng.choice(("巡查一组", "巡查二组")),
                                 area=rng.choice(LEAD_PLACES), started_at=start, ended_at=start + timedelta(hours=3),
                                 people_contacted=rng.randint(2, 12), people_brought_in=rng.randint(0, 2),
                                 campaign_id=campaign.id if start.astimezone(CHINA_TZ).date() >= campaign.starts_on else None))
    builder.counts["leads"] = count
