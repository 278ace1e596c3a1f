"""API of the clues issue: verifications before a handover, follow-ups after a return, description candidates."""
from __future__ import annotations

from datetime import timedelta

from service.models import FollowUp
from service.models.types import utcnow
from service.services import followups

COLLECTOR_ID = "11010519491231002X"


def _case(api, **fields):
    resp = api["staff"].post("/api/v1/cases", json={"gender": "male", **fields})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def test_verification_errors_and_a_minors_approval(api, db):
    child = _case(api, age_min=12, age_max=13)
    bad = api["staff"].post(f"/api/v1/cases/{child}/verifications", json={"evidence": "dna_match"})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "evidence"
    nested = api["staff"].post(f"/api/v1/cases/{child}/verifications", json={"evidence": [[None, None]]})
    assert nested.status_code == 422 and nested.get_json()["error"]["field"] == "evidence"
    weak = api["staff"].post(f"/api/v1/cases/{child}/verifications", json={"evidence": ["video_call"]})
    assert weak.status_code == 422 and weak.get_json()["error"]["code"] == "invalid_verification"
    made = api["staff"].post(f"/api/v1/cases/{child}/verifications",
                             json={"evidence": ["dna_match", "family_photos"], "details": {"dna_match": "TJ-1"}})
    assert made.status_code == 201
    vid = made.get_json()["id"]
    listing = api["staff"].get(f"/api/v1/cases/{child}/verifications").get_json()
    assert listing["verified"] is False and "supervisor" in listing["missing"]
    assert api["staff"].post(f"/api/v1/cases/{child}/verifications/{vid}/approve").status_code == 403
    approved = api["supervisor"].post(f"/api/v1/cases/{child}/verifications/{vid}/approve")
    assert approved.status_code == 200 and approved.get_json()["approved_by_id"]
    assert api["staff"].get(f"/api/v1/cases/{child}/verifications").get_json()["verified"] is True
    assert api["other_staff"].get(f"/api/v1/cases/{child}/verifications").status_code == 404


def test_follow_ups_through_the_api(api, db, users):
    case_id = _case(api, name="王某", age_min=40, age_max=50)
    assert api["staff"].post(f"/api/v1/cases/{case_id}/verifications", json={"evidence": ["id_check"]}).status_code == 201
    done = api["staff"].post(f"/api/v1/cases/{case_id}/exit", json={
        "type": "family_pickup", "collector_name": "王大", "collector_id_number": COLLECTOR_ID, "relation": "儿子"})
    assert done.status_code == 200, done.get_json()
    assert api["staff"].get("/api/v1/queues/followups").get_json()["items"] == []
    scheduled = api["staff"].get("/api/v1/queues/followups?all=true").get_json()["items"]
    assert [f["step"] for f in scheduled] == ["1w", "1m", "3m"]
    first = FollowUp.query.filter_by(case_id=case_id, step="1w").one()
    first.due_on = followups.local_date(utcnow() - timedelta(days=1))
    db.session.commit()
    [due] = api["staff"].get("/api/v1/queues/followups").get_json()["items"]
    assert due["state"] == "overdue"
    bad = api["staff"].post(f"/api/v1/followups/{due['id']}", json={"outcome": "fine"})
    assert bad.status_code == 422
    ok = api["staff"].post(f"/api/v1/followups/{due['id']}", json={"outcome": "settled_well", "note": "在家"})
    assert ok.status_code == 200 and ok.get_json()["outcome"] == "settled_well"
    assert api["staff"].post(f"/api/v1/followups/{due['id']}", json={"outcome": "settled_well"}).status_code == 409
    assert api["other_staff"].post(f"/api/v1/followups/{due['id']}", json={"outcome": "other"}).status_code == 404
