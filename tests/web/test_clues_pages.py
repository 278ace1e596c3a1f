"""Pages of the clues issue: the case page's verification card, the exit form's warning, the follow-up queue,
the re-arrival alerts, a long-missing child's report, and a description candidate's review page."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from service.models import CandidateMatch, HandoverVerification
from service.models.types import utcnow
from service.services import clues, family_search as search, followups
from service.services.intake import register_arrival
from service.services.reports import create_report
from tests.conftest import login
from tests.support.casefactory import make_case


@pytest.fixture()
def supervisor_client(app, users):
    client = app.test_client()
    login(client, "super1")
    return client


def test_case_page_records_a_verification_and_the_exit_form_says_what_is_missing(staff_client, users, db):
    case = make_case(users["staff"].station, utcnow() - timedelta(days=3), name="王秀英", age_min=50, age_max=55)
    page = staff_client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'data-testid="verify-form"' in page and "未核实" in page
    assert "尚未记录亲属核实" in staff_client.get(f"/cases/{case.id}/exit").get_data(as_text=True)
    resp = staff_client.post(f"/cases/{case.id}/verifications", data={
        "evidence": ["police_hukou", "video_call"], "detail_police_hukou": "户籍科 110105194912310021 核实"})
    assert resp.status_code == 302
    row = HandoverVerification.query.one()
    assert row.evidence == ["police_hukou", "video_call"] and row.checked_by_id == users["staff"].id
    assert "110105194912310021" not in str(row.details)  # an ID number typed into the note is masked
    page = staff_client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "已核实" in page and "公安户籍核实" in page
    assert 'data-testid="handover-verified"' in staff_client.get(f"/cases/{case.id}/exit").get_data(as_text=True)


def test_nothing_checked_is_not_a_verification(staff_client, users, db):
    case = make_case(users["staff"].station, utcnow() - timedelta(days=3))
    staff_client.post(f"/cases/{case.id}/verifications", data={"family_name": "某"})
    assert HandoverVerification.query.count() == 0


def test_follow_up_queue_and_re_arrival_page(staff_client, supervisor_client, users, stations, db):
    home = make_case(stations["main"], utcnow() - timedelta(days=30), name="李桂英", exit_type="escorted_home",
                     closed=utcnow() - timedelta(days=10))
    followups.schedule_after_exit(home)
    db.session.commit()
    page = staff_client.get("/queues/followups").get_data(as_text=True)
    assert home.case_no in page and "1周回访" in page and "1个月回访" not in page
    assert "1个月回访" in staff_client.get("/queues/followups?all=1").get_data(as_text=True)
    assert staff_client.get("/alerts/re-arrivals").status_code == 403
    again = make_case(stations["main"], utcnow() - timedelta(days=1), name="李桂英")
    followups.alert_if_returned(again, home)
    db.session.commit()
    page = supervisor_client.get("/alerts/re-arrivals").get_data(as_text=True)
    assert again.case_no in page and "已返乡，又回到街头" in page
    dashboard = supervisor_client.get("/dashboard").get_data(as_text=True)
    assert 'data-kpi="re_arrivals" href="/alerts/re-arrivals">1<' in dashboard


def test_a_child_missing_for_years_is_flagged_on_the_report(staff_client, users, settings, db):
    report = create_report(users["staff"], {"name": "小明", "gender": "male", "age_at_missing": "6",
                                            "missing_since": "2018-06-01"}, [], settings).report
    page = staff_client.get(f"/reports/{report.id}").get_data(as_text=True)
    assert 'data-testid="long-missing-child"' in page and "儿童走失已" in page


def test_a_description_candidate_review_page_shows_the_clues(staff_client, users, settings, db):
    report = create_report(users["staff"], {"name": "王秀英", "gender": "female", "age_at_missing": "52",
                                            "hometown": "河南省周口市沈丘县", "contact_name": "王德明",
                                            "missing_since": (date.today() - timedelta(days=300)).isoformat()},
                           [], settings).report
    clues.propose_for_report(report.id)
    case = register_arrival(users["staff"], {"gender": "female", "age_min": "50", "age_max": "60"}, [], settings).case
    search.log_step(users["staff"], case, "interview", "in_progress",
                    {"kind": "held", "notes": "问询", "clue_names": ["王秀银", "王德民"], "clue_places": ["沈丘"]})
    assert staff_client.post(f"/cases/{case.id}/clues/run").status_code == 302
    row = CandidateMatch.query.one()
    page = staff_client.get(f"/review/{row.id}").get_data(as_text=True)
    assert 'data-testid="description-score"' in page and "音近" in page and "同县" in page
    assert 'data-attr="relative"' in page
    case_page = staff_client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'data-testid="clue-tag"' in case_page and "王秀英" in case_page
    assert "王秀英" in staff_client.get("/review").get_data(as_text=True)
