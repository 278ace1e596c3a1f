"""`flask demo load`: a station in every state, consistent with the rules, loaded once."""
from __future__ import annotations

from sqlalchemy import func, select

from service.demo import load_demo
from service.domain import lifecycle
from service.domain.intake import age_bounds
from service.models import CandidateMatch, Case, ChannelEvent, GalleryReport, Station
from service.models.types import utcnow
from service.services import stats, worklists


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_demo_fills_every_state_once(db, users):
    first = load_demo("DEMO")
    assert first["loaded"] and first["cases"] == 90
    counts = {m: _count(db, m) for m in (Case, GalleryReport, CandidateMatch, ChannelEvent)}
    assert load_demo("DEMO") == {"loaded": False}
    assert {m: _count(db, m) for m in counts} == counts  # idempotent

    cases = db.session.scalars(select(Case)).all()
    states = {c.state for c in cases}
    assert {"in_station", "in_hospital", "returned", "transferred", "settled", "left", "in_medical_care"} <= states
    assert {c.exit_type for c in cases} >= {"family_pickup", "escorted_home", "self_return"}
    assert {c.identified_by_channel for c in cases} >= {"interview", "portal", "dna", "face"}
    assert any(c.is_minor for c in cases) and not any(c.id_number for c in cases)
    assert {r.status for r in db.session.scalars(select(GalleryReport))} >= {"open", "found"}
    assert {c.status for c in db.session.scalars(select(CandidateMatch))} == {"pending", "confirmed", "rejected"}
    now = utcnow()
    for case in cases:
        assert case.arrived_at <= now and case.case_no.startswith("DEMO-")
        if case.identified_at:
            assert case.arrived_at < case.identified_at < now
        if case.closed_at:
            assert case.arrived_at < case.closed_at <= now
            assert case.state == lifecycle.EXIT_RULES[case.exit_type].state
        if case.exit_type == "self_return":  # the exit rules hold in the demo too
            lo, _hi = age_bounds(case.birth_date, case.age_min, case.age_max, now.date())
            assert not case.is_minor and (lo or 16) >= 16 and case.can_travel_alone


def test_demo_makes_a_meaningful_dashboard(db, users):
    load_demo("DEMO")
    admin = users["admin"]
    station = db.session.scalar(select(Station).where(Station.code == "DEMO"))
    body = stats.summary(admin, stats.parse_range({}), station.id)
    assert body["arrivals"] >= 80 and body["identified"] >= 30
    assert 0.6 < body["return_rate_identified"] < 1
    assert body["median_days_to_identify"] > 1
    assert sum(b["count"] for b in body["stranded_days"]) == body["open_cases"] > 5
    assert all(b["reviewed"] > 0 for b in body["face_precision"])
    assert len(body["gallery_coverage"]) >= 10
    flt = worklists.parse_filter(admin, {"station": "DEMO"})
    assert worklists.stranded(admin, flt) and worklists.identified(admin, flt) and worklists.minors(admin, flt)


def test_demo_command(app, db, users):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "load", "--station", "DEMO2", "--cases", "12"])
    assert result.exit_code == 0, result.output
    assert "cases=12" in result.output
    again = runner.invoke(args=["demo", "load", "--station", "DEMO2", "--cases", "12"])
    assert again.exit_code == 0 and "already loaded" in again.output
