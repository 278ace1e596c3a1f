"""Supervisor queues: who is in which queue, the order, the filters and the station scoping."""
from __future__ import annotations

import pytest

from service.domain.errors import Forbidden, InvalidValue
from service.models.types import utcnow
from service.services import worklists
from tests.support.casefactory import case_event, days_ago, make_case, step


@pytest.fixture()
def people(db, stations, users):
    now = utcnow()
    main, other = stations["main"], stations["other"]
    p = {}
    p["long"] = make_case(main, days_ago(now, 30), age_min=40, age_max=50, categories=["mental_illness"])
    p["elder"] = make_case(main, days_ago(now, 2), age_min=70, age_max=75, categories=["elderly"])
    step(p["elder"], "portal", days_ago(now, 1.9), "posted", post_id="P-1")
    p["child"] = make_case(main, days_ago(now, 5), age_min=12, age_max=14, categories=["minor", "suspected_lost"])
    step(p["child"], "dna", days_ago(now, 4.9), "requested")
    p["hospital"] = make_case(main, days_ago(now, 12), name="赵某", state="in_hospital")
    case_event(p["hospital"], "extension_approved", days_ago(now, 2))
    p["found"] = make_case(main, days_ago(now, 20), age_min=30, age_max=30, identified=days_ago(now, 3), channel="dna")
    p["home"] = make_case(main, days_ago(now, 20), identified=days_ago(now, 10), channel="portal",
                          exit_type="family_pickup", closed=days_ago(now, 8))
    p["placed"] = make_case(main, days_ago(now, 40), identified=days_ago(now, 10), channel="interview",
                            exit_type="transfer", closed=days_ago(now, 30))
    p["gone"] = make_case(main, days_ago(now, 15), exit_type="left_voluntarily", closed=days_ago(now, 14))
    p["elsewhere"] = make_case(other, days_ago(now, 9), age_min=20, age_max=25)
    return p


def _ids(rows):
    return [r.case.id for r in rows]


def test_stranded_longest_first_with_overdue_steps(people, users):
    rows = worklists.stranded(users["supervisor"])
    assert _ids(rows) == [people[k].id for k in ("long", "hospital", "child", "elder")]
    by_id = {r.case.id: r for r in rows}
    long_stay = by_id[people["long"].id]
    assert long_stay.days_stranded == 30 and long_stay.stranded is True
    assert {"portal_notice", "dna_request", "extension_approval"} <= {s.rule_code for s in long_stay.overdue}
    # The portal notice was posted for the elderly man: not overdue; his stay is within the normal limit.
    elder = by_id[people["elder"].id]
    assert "portal_notice" not in {s.rule_code for s in elder.overdue} and elder.stranded is False
    # The hospital case's extension was approved: that duty is not overdue any more.
    assert "extension_approval" not in {s.rule_code for s in by_id[people["hospital"].id].overdue}


def test_stranded_filters(people, users):
    sup = users["supervisor"]

    def run(**args):
        return _ids(worklists.stranded(sup, worklists.parse_filter(sup, {k: str(v) for k, v in args.items()})))

    assert run(category="elderly") == [people["elder"].id]
    assert run(min_days=10) == [people["long"].id, people["hospital"].id]
    assert run(max_days=5) == [people["child"].id, people["elder"].id]
    assert run(min_days=3, max_days=12) == [people["hospital"].id, people["child"].id]
    # Age ranges overlap the asked range; an unknown age (the hospital case) matches no age filter.
    assert run(min_age=60) == [people["elder"].id]
    assert run(max_age=15) == [people["child"].id]
    assert run(min_age=45, max_age=70) == [people["long"].id, people["elder"].id]
    assert run(station="TJHX", category="minor") == [people["child"].id]


def test_filter_errors_and_station_rules(people, users):
    sup, admin = users["supervisor"], users["admin"]
    for args in ({"min_days": "ten"}, {"category": "tall"}, {"min_age": "200"}, {"min_days": "9", "max_days": "3"},
                 {"station": "NOPE"}):
        with pytest.raises(InvalidValue):
            worklists.parse_filter(sup, args)
    with pytest.raises(Forbidden):
        worklists.parse_filter(sup, {"station": "TJNK"})
    assert _ids(worklists.stranded(admin, worklists.parse_filter(admin, {"station": "TJNK"}))) == [people["elsewhere"].id]
    assert people["elsewhere"].id in _ids(worklists.stranded(admin))
    assert people["elsewhere"].id not in _ids(worklists.stranded(users["supervisor"]))


def test_identified_not_yet_home(people, users):
    rows = worklists.identified(users["supervisor"])
    # The transferred person keeps an open search; the one who went home is not in the gap.
    assert _ids(rows) == [people["placed"].id, people["found"].id]
    found = rows[1]
    assert found.details["days_since_identified"] == 3
    assert found.details["family_contacted"] is False and found.details["return_arranged"] is False
    assert {"family_contact", "return_arranged"} <= {s.rule_code for s in found.overdue}
    assert _ids(worklists.identified(users["supervisor"], worklists.QueueFilter(min_age=31))) == []


def test_minors(people, users, db):
    rows = worklists.minors(users["supervisor"])
    assert _ids(rows) == [people["child"].id]
    row = rows[0]
    assert row.details["under_16"] is True and row.details["dna"] == "in_progress"
    assert row.details["dna_requested"] is True and row.details["notice_approved"] is False
    assert "minor_notice_approval" in {s.rule_code for s in row.overdue}


def test_unknown_queue(users):
    with pytest.raises(InvalidValue):
        worklists.run("everything", users["supervisor"], worklists.QueueFilter())


def test_overdue_and_approvals_queues_do_not_query_per_case(db, users, settings):
    """Regression (bench/queue_bench.py): the queues read stations, timelines and channel steps eagerly."""
    import sqlalchemy as sa

    from service.demo import load_demo
    from service.models import Station, User
    from service.services import family_search

    load_demo("QB", cases=40, seed=7)
    station = db.session.scalar(sa.select(Station).where(Station.code == "QB"))
    user = User(username="qb", role="supervisor", password_hash="x", station=station)
    db.session.add(user)
    db.session.commit()
    db.session.expire_all()
    statements = []
    listener = lambda *args, **kwargs: statements.append(1)  # noqa: E731
    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        overdue = family_search.overdue_queue(user)
        db.session.expire_all()
        approvals = family_search.approvals_queue(user)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)
    assert overdue and approvals["extension"]  # the demo station has late steps and long stays
    assert len(statements) <= 16, f"{len(statements)} SQL statements for two queues of 40 cases"
