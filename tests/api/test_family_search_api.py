"""The family search through the API: channel steps, deadlines, identity, exits, alerts."""
from __future__ import annotations

from datetime import timedelta

from service.models import AuditEntry, Case, DeadlineAlert
from service.models.types import utcnow
from service.services import alerts

COLLECTOR_ID = "11010519491231002X"


def _case(api, **fields):
    return api["staff"].post("/api/v1/cases", json=fields).get_json()["id"]


def _channels(api, case_id):
    return {c["channel"]: c for c in api["staff"].get(f"/api/v1/cases/{case_id}/channels").get_json()["items"]}


def test_channels_listed_with_due_times(api):
    case_id = _case(api, gender="male", age_min=40, age_max=50)
    chans = _channels(api, case_id)
    assert set(chans) == {"portal", "toutiao", "newspaper", "dna", "face", "interview"}
    assert chans["portal"]["due_at"] and chans["portal"]["overdue"] is False
    assert chans["dna"]["due_step"] == "dna_request"


def test_dna_result_confirms_identity_and_family_pickup_closes(api, db):
    case_id = _case(api, name="李某", gender="male", age_min=70, age_max=80)
    post = lambda ch, body: api["staff"].post(f"/api/v1/cases/{case_id}/channels/{ch}/events", json=body)  # noqa: E731
    assert post("dna", {"status": "in_progress", "fields": {"kind": "requested", "police_office": "河西分局"}}).status_code == 201
    assert post("dna", {"fields": {"kind": "collected", "sample_id": "S-1"}}).status_code == 201
    bad = post("dna", {"fields": {"kind": "result", "result": "perhaps"}})
    assert bad.status_code == 422
    resp = post("dna", {"status": "confirmed", "note": "公安DNA比对一致", "fields": {"kind": "result", "sample_id": "S-1", "result": "match"}})
    assert resp.status_code == 201, resp.get_json()
    case = api["staff"].get(f"/api/v1/cases/{case_id}").get_json()
    assert case["identity_status"] == "confirmed" and case["identified_by_channel"] == "dna"
    # Family contact, then the deadline for arranging the return is visible.
    contact = api["staff"].post(f"/api/v1/cases/{case_id}/family-contacts",
                                json={"contact_name": "李大", "relation": "儿子", "phone": "13900000000", "method": "phone",
                                      "outcome": "will_pick_up"})
    assert contact.status_code == 201
    rules = {d["rule"]: d for d in api["staff"].get(f"/api/v1/cases/{case_id}/deadlines").get_json()["items"]}
    assert rules["family_contact"]["done"] is True and rules["return_arranged"]["done"] is False

    missing = api["staff"].post(f"/api/v1/cases/{case_id}/exit", json={"type": "family_pickup", "collector_name": "李大"})
    assert missing.status_code == 422 and missing.get_json()["error"]["field"] == "collector_id_number"
    # Nothing is handed to an unverified family: the verification names its evidence; the caller checked it.
    pickup = {"type": "family_pickup", "collector_name": "李大", "collector_id_number": COLLECTOR_ID, "relation": "儿子"}
    unverified = api["staff"].post(f"/api/v1/cases/{case_id}/exit", json=pickup)
    assert unverified.status_code == 409 and unverified.get_json()["error"]["code"] == "handover_not_verified"
    verified = api["staff"].post(f"/api/v1/cases/{case_id}/verifications",
                                 json={"evidence": ["dna_match", "video_call"], "details": {"dna_match": "S-1"},
                                       "family_name": "李大", "relation": "儿子"})
    assert verified.status_code == 201, verified.get_json()
    assert verified.get_json()["evidence"] == ["dna_match", "video_call"]
    done = api["staff"].post(f"/api/v1/cases/{case_id}/exit", json={
        "type": "family_pickup", "collector_name": "李大", "collector_id_number": COLLECTOR_ID, "relation": "儿子"})
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["state"] == "returned" and body["exit_type"] == "family_pickup" and body["closed_at"]
    assert body["exit_details"]["collector_id_number"] == "110***********002X"
    assert db.session.query(AuditEntry).filter_by(action="case.exit", object_id=case_id).count() == 1
    again = api["staff"].post(f"/api/v1/cases/{case_id}/exit", json={"type": "left_voluntarily"})
    assert again.status_code == 409


def test_exit_rules_for_minors_and_settlement(api):
    child = _case(api, gender="female", age_min=12, age_max=14)
    resp = api["staff"].post(f"/api/v1/cases/{child}/exit", json={"type": "self_return", "destination": "河南"})
    assert resp.status_code == 409 and "16" in resp.get_json()["error"]["message"]
    adult = _case(api, gender="male", age_min=40, age_max=50)
    assert api["staff"].post(f"/api/v1/cases/{adult}/exit", json={"type": "settlement"}).status_code == 403
    resp = api["supervisor"].post(f"/api/v1/cases/{adult}/exit", json={"type": "settlement"})
    assert resp.status_code == 409 and "eligible" in resp.get_json()["error"]["message"]
    assert api["staff"].post(f"/api/v1/cases/{adult}/exit", json={"type": "teleport"}).status_code == 422


def test_minor_notice_needs_approval_before_posting(api):
    child = _case(api, gender="female", age_min=9, age_max=10)
    body = {"status": "in_progress", "fields": {"kind": "posted", "post_id": "P-1"}}
    resp = api["staff"].post(f"/api/v1/cases/{child}/channels/portal/events", json=body)
    assert resp.status_code == 409
    assert api["staff"].post(f"/api/v1/cases/{child}/steps", json={"kind": "notice_approved"}).status_code == 403
    assert api["supervisor"].post(f"/api/v1/cases/{child}/steps", json={"kind": "notice_approved"}).status_code == 201
    assert api["staff"].post(f"/api/v1/cases/{child}/channels/portal/events", json=body).status_code == 201


def test_not_applicable_needs_reason_and_illegal_moves_are_409(api):
    case_id = _case(api, gender="male")
    url = f"/api/v1/cases/{case_id}/channels/newspaper/events"
    assert api["staff"].post(url, json={"status": "not_applicable"}).status_code == 422
    assert api["staff"].post(url, json={"status": "not_applicable", "note": "本地无合作报刊"}).status_code == 201
    assert _channels(api, case_id)["newspaper"]["status"] == "not_applicable"
    assert api["staff"].post(f"/api/v1/cases/{case_id}/channels/fax/events", json={}).status_code == 422


def test_deadline_sweep_is_idempotent_and_resolves(api, db):
    case_id = _case(api, gender="male", age_min=30, age_max=40)
    case = db.session.get(Case, case_id)
    case.arrived_at = utcnow() - timedelta(days=3)
    db.session.commit()
    notifier = alerts.LogNotifier()
    first = alerts.sweep(notifier=notifier)
    again = alerts.sweep(notifier=notifier)
    assert first["created"] >= 2 and again["created"] == 0
    codes = {a.rule_code for a in db.session.query(DeadlineAlert)}
    assert {"portal_notice", "face_run"} <= codes
    assert len(notifier.sent) == 1
    listed = api["supervisor"].get("/api/v1/alerts").get_json()
    assert listed["total"] == len(codes)
    assert api["staff"].get("/api/v1/alerts").status_code == 403
    overdue = api["staff"].get("/api/v1/queues/overdue").get_json()
    assert overdue["items"][0]["case_id"] == case_id
    api["staff"].post(f"/api/v1/cases/{case_id}/channels/portal/events",
                      json={"status": "in_progress", "fields": {"kind": "posted", "post_id": "P-9"}})
    alerts.sweep(notifier=notifier)
    open_codes = {a.rule_code for a in db.session.query(DeadlineAlert).filter(DeadlineAlert.resolved_at.is_(None))}
    assert "portal_notice" not in open_codes


def test_long_stays_need_approval_and_reach_settlement_review(api, db):
    from service.models import SearchChannel

    long_stay = _case(api, gender="male", age_min=50, age_max=60)
    case = db.session.get(Case, long_stay)
    case.arrived_at = utcnow() - timedelta(days=100)
    db.session.commit()
    queues = api["supervisor"].get("/api/v1/queues/approvals").get_json()
    assert [c["case_id"] for c in queues["extension"]] == [long_stay]
    assert queues["settlement"] == []  # not every channel tried yet
    for row in db.session.query(SearchChannel).filter_by(case_id=long_stay):
        row.status = "no_result"
    db.session.commit()
    queues = api["supervisor"].get("/api/v1/queues/approvals").get_json()
    assert [c["case_id"] for c in queues["settlement"]] == [long_stay]
    api["supervisor"].post(f"/api/v1/cases/{long_stay}/steps", json={"kind": "extension_approved"})
    assert api["supervisor"].get("/api/v1/queues/approvals").get_json()["extension"] == []
    settled = api["supervisor"].post(f"/api/v1/cases/{long_stay}/exit", json={"type": "settlement", "destination": "本市福利院"})
    assert settled.status_code == 200 and settled.get_json()["state"] == "settled"
    assert api["staff"].get("/api/v1/queues/approvals").status_code == 403
