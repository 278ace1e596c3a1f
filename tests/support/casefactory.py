"""Cases with chosen history for the supervisor tests: arrival, identity, exit and steps at set times."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from service.domain.channels import CHANNELS
from service.domain.deadlines import CHINA_TZ
from service.domain.lifecycle import EXIT_RULES
from service.extensions import db
from service.models import CandidateMatch, Case, CaseEvent, ChannelEvent, GalleryReport, SearchChannel, Station

_PAIRS = itertools.count(1)


def bj(*parts) -> datetime:
    """A Beijing wall-clock time."""
    return datetime(*parts, tzinfo=CHINA_TZ)


def make_case(station: Station, arrived: datetime, *, identified: datetime | None = None, channel: str | None = None,
              exit_type: str | None = None, closed: datetime | None = None, state: str = "in_station",
              **fields) -> Case:
    fields.setdefault("gender", "male")
    fields.setdefault("categories", [])
    fields["is_minor"] = "minor" in fields["categories"]
    case = Case(station_id=station.id, arrived_at=arrived, state=state, matching_status="done",
                identity_status="self_reported" if fields.get("name") else "unknown", **fields)
    case.channels = [SearchChannel(channel=c, status="not_started") for c in CHANNELS]
    if identified:
        case.identity_status, case.identified_at, case.identified_by_channel = "confirmed", identified, channel
        case.events.append(CaseEvent(kind="identity_confirmed", at=identified, data={"by": channel}))
    if exit_type:
        case.exit_type, case.closed_at = exit_type, closed
        case.state = EXIT_RULES[exit_type].state
    db.session.add(case)
    db.session.flush()
    case.case_no = f"{station.code}-{arrived.astimezone(CHINA_TZ):%Y%m%d}-{case.id:06d}"
    db.session.commit()
    return case


def step(case: Case, channel: str, at: datetime, kind: str, status: str = "in_progress", **fields) -> None:
    row = next(c for c in case.channels if c.channel == channel)
    row.status = status
    row.events.append(ChannelEvent(at=at, status=status, fields={"kind": kind, **fields}))
    db.session.commit()


def case_event(case: Case, kind: str, at: datetime) -> None:
    case.events.append(CaseEvent(kind=kind, at=at))
    db.session.commit()


def candidate(case: Case, band: str, status: str, decided: datetime | None, other: Case) -> CandidateMatch:
    row = CandidateMatch(pair_key=f"t:{case.id}:{next(_PAIRS)}",
                         kind="previous_arrival", case_id=case.id, other_case_id=other.id, engine="test",
                         face_distance=0.4, score=0.8, band=band, status=status, decided_at=decided)
    db.session.add(row)
    db.session.commit()
    return row


def report(**fields) -> GalleryReport:
    row = GalleryReport(**fields)
    db.session.add(row)
    db.session.commit()
    return row


def days_ago(now: datetime, days: float) -> datetime:
    return now - timedelta(days=days)
