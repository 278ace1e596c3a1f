"""`flask --app service demo load`: a realistic station over a few months, so the dashboard means something.

Invented people only (names drawn from common surnames and given names, no ID numbers, no photos).
Times are relative to now, so the queues and deadlines look current whenever it is loaded. Loading is
idempotent: a marker row says it was done, and every generated row carries a unique key.
"""
from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..extensions import db
from ..models import AuditEntry, Station
from ..models.types import utcnow
from .station import Builder

demo_cli = AppGroup("demo", help="Demo data for a first look at a fresh instance.")

MARKER = "demo.load"


def load_demo(station_code: str = "DEMO", now: datetime | None = None, seed: int = 2026, cases: int = 90) -> dict:
    """Fill the station (created if missing) with `cases` arrivals and the reports around them, once."""
    now = now or utcnow()
    station = db.session.scalar(select(Station).where(Station.code == station_code))
    if station is None:
        station = Station(code=station_code, name="示范救助管理站", city="天津")
        db.session.add(station)
        db.session.flush()
    done = db.session.scalar(select(AuditEntry).where(AuditEntry.action == MARKER, AuditEntry.object_type == "station",
                                                      AuditEntry.object_id == station.id))
    if done is not None:
        db.session.rollback()
        return {"loaded": False}
    builder = Builder(station, now, seed)
    for index in range(cases):
        builder.case(index)
    for _ in range(40):  # reports nobody has matched yet: the gallery beyond this station's arrivals
        builder._report()
    builder.street_leads(60)
    db.session.add(AuditEntry(action=MARKER, object_type="station", object_id=station.id,
                              detail={"seed": seed, **builder.counts}))
    db.session.commit()
    return {"loaded": True, "station": station.code, **builder.counts}


@demo_cli.command("load")
@click.option("--station", "station_code", default="DEMO", show_default=True, help="station code (created if missing)")
@click.option("--seed", default=2026, show_default=True, help="random seed: the same seed gives the same station")
@click.option("--cases", default=90, show_default=True, type=click.IntRange(1, 5000))
def load(station_code: str, seed: int, cases: int) -> None:
    """Load a realistic demo station (cases in every state, reports, channel steps, exits, candidates)."""
    result = load_demo(station_code, seed=seed, cases=cases)
    if not result["loaded"]:
        click.echo(f"demo data is already loaded for station {station_code}; nothing added")
        return
    click.echo(" ".join(f"{k}={v}" for k, v in result.items() if k != "loaded"))
