"""The family search's services: one identity confirmation for every channel, station rules saved by the service."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from service.domain.errors import InvalidValue
from service.models import AuditEntry, Case, CaseEvent, Station
from service.services import family_search
from service.services.identification import confirm_identity
from service.services.intake import register_arrival

INTERVIEW = {"kind": "held", "notes": "说出了村名和父亲的名字"}


def _identity_events(db, case_id: int) -> list[CaseEvent]:
    return list(db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                           CaseEvent.kind == "identity_confirmed").order_by(CaseEvent.id)))


def test_the_first_confirmation_decides_and_a_face_link_later_keeps_it(db, users, settings):
    staff = users["staff"]
    case = register_arrival(staff, {"name": "王某", "gender": "male"}, [], settings).case
    family_search.log_step(staff, case, "interview", "in_progress", INTERVIEW)
    family_search.log_step(staff, case, "interview", "confirmed", INTERVIEW)
    case = db.session.get(Case, case.id)
    first_at = case.identified_at
    assert (case.identity_status, case.identified_by_channel) == ("confirmed", "interview") and first_at
    family_search.log_step(staff, case, "interview", "confirmed", INTERVIEW)  # the same channel again: no news
    assert [e.data for e in _identity_events(db, case.id)] == [{"by": "interview"}]

    # A face match confirmed afterwards (services.review) goes through the same rule: the link is logged,
    # the decisive channel and the date stay the interview's.
    assert confirm_identity(staff, case, "face", {"candidate_id": 7, "report_id": 9}) is False
    db.session.commit()
    case = db.session.get(Case, case.id)
    assert (case.identified_by_channel, case.identified_at) == ("interview", first_at)
    assert [e.data for e in _identity_events(db, case.id)] == [{"by": "interview"},
                                                           {"by": "face", "candidate_id": 7, "report_id": 9}]


def test_station_rules_are_checked_whole_then_saved_and_audited(db, users):
    admin = users["admin"]
    station = db.session.scalar(select(Station).where(Station.id == users["staff"].station_id))
    for overrides, calendar, field in (('{"no_such_rule": {}}', "{}", "no_such_rule"),
                                       ('{"portal_notice": {"offset": "12h"}}', "{not json", "calendar"),
                                       ('{"portal_notice": {"offset": "12h"}}', '{"holidays": ["2025-13-01"]}', "calendar")):
        with pytest.raises(InvalidValue) as exc:
            family_search.save_station_rules(admin, station, overrides, calendar)
        assert exc.value.field == field
        db.session.rollback()
        assert db.session.get(Station, station.id).rules_overrides is None
    family_search.save_station_rules(admin, station, '{"portal_notice": {"offset": "12h"}}',
                                     '{"holidays": ["2025-10-01"], "workdays": []}', ip="10.0.0.1")
    db.session.rollback()  # saved by the service's own commit
    station = db.session.get(Station, station.id)
    assert station.rules_overrides == {"portal_notice": {"offset": "12h"}}
    rules = {r.code: r for r in family_search.station_rules(station)}
    assert str(rules["portal_notice"].offset) == "12h"
    assert family_search.station_calendar(station).holidays
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "rules.update",
                                                      AuditEntry.object_id == station.id)) is not None
