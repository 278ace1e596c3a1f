"""Face data on record: legal basis per enrolled person, enrolment count and filing alert, face-search volume
alerts per account, each station's processing record and its export, the template key at boot."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from contextlib import contextmanager
from datetime import timedelta

import pytest

from service.models import AuditEntry, BiometricBasis, CandidateMatch, Face, FaceTemplate, PrivacyAlert, ProcessingRecord
from service.models.types import utcnow
from service.services import alerts, audit, leads, privacy, retention, review
from service.services.intake import register_arrival
from service.services.reports import create_report
from tests.conftest import login
from tests.support.faces import fresh_index, photo, process_all  # noqa: F401  (fresh_index: a fixture)
from tests.support.procs import child_env

pytestmark = pytest.mark.usefixtures("fresh_index")


@contextmanager
def configured(app, **changes):
    saved = app.config["HUIJIA"]
    app.config["HUIJIA"] = dataclasses.replace(saved, **changes)
    try:
        yield app.config["HUIJIA"]
    finally:
        app.config["HUIJIA"] = saved


def basis_of(kind, owner_id):
    row = BiometricBasis.query.filter_by(owner_kind=kind, owner_id=owner_id).one()
    return row.basis, row.purpose, row.minor


def test_every_enrolled_person_has_a_legal_basis_on_record_in_the_audit_and_on_their_page(app, db, users, settings,
                                                                                          faces_dir):
    staff = users["staff"]
    adult = register_arrival(staff, {"age_min": 40, "age_max": 50}, [photo(faces_dir, "Tony_Blair", 1)], settings).case
    child = register_arrival(staff, {"age_min": 9, "age_max": 11}, [photo(faces_dir, "Daniel_Radcliffe", 1)], settings).case
    family = create_report(staff, {"name": "家属报", "source": "family"}, [photo(faces_dir, "Yao_Ming", 1)], settings).report
    police = create_report(staff, {"name": "警方报", "source": "police"}, [photo(faces_dir, "Colin_Powell", 1)], settings).report
    minor = create_report(staff, {"name": "孩子", "age_at_missing": 8}, [photo(faces_dir, "Daniel_Radcliffe", 2)], settings).report
    lead = leads.report_lead(users["reporter"], {"place": "桥下"}, [photo(faces_dir, "Jackie_Chan", 1)], settings).lead
    no_photo = register_arrival(staff, {}, [], settings).case
    process_all(settings)

    assert basis_of("case", adult.id) == ("statutory_duty", "identify_arrival", False)
    assert basis_of("case", child.id) == ("guardian_duty", "identify_arrival", True)
    assert basis_of("report", family.id) == ("family_consent", "find_missing", False)
    assert basis_of("report", police.id) == ("statutory_duty", "find_missing", False)
    assert basis_of("report", minor.id) == ("guardian_consent", "find_missing", True)
    assert basis_of("lead", lead.id) == ("statutory_duty", "street_check", False)
    # Everyone with a template has a basis; nobody without one does.
    enrolled = {(f.owner_kind, f.owner_id) for f in Face.query.filter(Face.template_id.is_not(None))}
    assert enrolled == {(b.owner_kind, b.owner_id) for b in BiometricBasis.query} and ("case", no_photo.id) not in enrolled
    logged = {(a.object_type, a.object_id): a.detail for a in AuditEntry.query.filter_by(action="biometric.enrol")}
    assert logged[("case", child.id)]["basis"] == "guardian_duty" and len(logged) == len(enrolled)

    client = app.test_client()
    login(client, "staff1")
    page = client.get(f"/cases/{child.id}").get_data(as_text=True)
    assert "救助机构作为临时监护人" in page and "识别受助人员身份" in page  # zh_CN first
    page = client.get(f"/reports/{family.id}").get_data(as_text=True)
    assert "报告家属的单独同意" in page
    client.post("/lang/en", data={"next": "/"})
    page = client.get(f"/reports/{minor.id}").get_data(as_text=True)
    assert "Consent of the parent or guardian" in page
    assert "no face template stored" in client.get(f"/cases/{no_photo.id}").get_data(as_text=True)


def test_faces_a_street_lead_hands_to_its_arrival_take_the_arrivals_basis(db, users, settings, faces_dir, monkeypatch):
    from service.extensions import celery

    lead = leads.report_lead(users["reporter"], {"place": "桥下", "urgency": ["minor"]}, [photo(faces_dir, "Yao_Ming", 1)],
                             settings).lead
    process_all(settings)
    assert basis_of("lead", lead.id) == ("guardian_duty", "street_check", True)
    monkeypatch.setattr(celery, "send_task", lambda *a, **k: None)
    case, created = leads.convert_to_arrival(users["staff"], lead.id, {}, [], settings)
    # The arrival's own basis and purpose (the lead's minor flag comes with it: the station is the guardian).
    assert created and case.is_minor and basis_of("case", case.id) == ("guardian_duty", "identify_arrival", True)
    enrolled = {(f.owner_kind, f.owner_id) for f in Face.query.filter(Face.template_id.is_not(None))}
    assert enrolled == {("case", case.id)} and enrolled <= {(b.owner_kind, b.owner_id) for b in BiometricBasis.query}


def test_distinct_people_count_confirmed_matches_once_and_admins_are_alerted_at_the_threshold(app, db, users, settings,
                                                                                               faces_dir):
    from service.matching import candidates

    staff = users["staff"]
    create_report(staff, {"name": "Obama"}, [photo(faces_dir, "Barack_Obama", 1)], settings)
    create_report(staff, {"name": "Yao"}, [photo(faces_dir, "Yao_Ming", 1)], settings)
    case = register_arrival(staff, {}, [photo(faces_dir, "Barack_Obama", 3)], settings).case
    process_all(settings)
    candidates.match_case(case.id, settings)
    assert (privacy.enrolled_records(), privacy.enrolled_people()) == (3, 3)
    review.decide(staff, CandidateMatch.query.one().id, "confirm", "same person")
    assert (privacy.enrolled_records(), privacy.enrolled_people()) == (3, 2)  # the arrival is the reported man

    with configured(app, enrolment_alert_threshold=3) as config:
        assert privacy.watch(config, notifier=alerts.LogNotifier())["raised"] == 0
    with configured(app, enrolment_alert_threshold=2) as config:
        sent = alerts.LogNotifier()
        assert privacy.watch(config, notifier=sent)["raised"] == 1
        assert privacy.watch(config, notifier=sent)["raised"] == 0  # once per threshold
        assert len(sent.sent) == 1 and "enrolment_threshold" in sent.sent[0][1]
        admin = app.test_client()
        login(admin, "admin1")
        page = admin.get("/admin/privacy").get_data(as_text=True)
        assert 'data-testid="enrolled-people">2<' in page and "已存储人脸模板的人数达到备案阈值" in page
    alert = PrivacyAlert.query.one()
    assert (alert.kind, alert.detail, alert.notified_at is not None) == ("enrolment_threshold", {"people": 2, "threshold": 2}, True)
    assert "存储人数达到备案阈值" in admin.get("/admin/privacy").get_data(as_text=True)  # the open alert
    assert admin.post(f"/admin/privacy/alerts/{alert.id}/resolve", data={"note": "已备案"}).status_code == 302
    db.session.expire_all()
    assert PrivacyAlert.query.one().resolved_at is not None
    assert AuditEntry.query.filter_by(action="privacy_alert.resolve").count() == 1


def test_unusual_face_search_volume_of_one_account_is_alerted(app, db, users, settings, faces_dir):
    reporter, staff = users["reporter"], users["staff"]
    for who, n in (("Yao_Ming", 1), ("Yao_Ming", 2), ("Jackie_Chan", 1), ("Jackie_Chan", 2)):
        leads.report_lead(reporter, {"place": "天桥"}, [photo(faces_dir, who, n)], settings)
    register_arrival(staff, {}, [photo(faces_dir, "Tony_Blair", 1)], settings)
    process_all(settings)
    searches = AuditEntry.query.filter_by(action="face.search")
    assert {(a.user_id, a.object_type) for a in searches} == {(reporter.id, "lead"), (staff.id, "case")}
    assert privacy.face_searches(reporter.id, utcnow() - timedelta(hours=1)) == 4
    audit.record_now(staff.id, "photo.face_choose", "photo", 1, {"face_id": 1})  # staff picked a face: searched again
    assert privacy.face_searches(staff.id, utcnow() - timedelta(hours=1)) == 2

    with configured(app, face_search_alert="3 per hour; 100 per day") as config:
        sent = alerts.LogNotifier()
        assert privacy.watch(config, notifier=sent)["raised"] == 1
        assert privacy.watch(config, notifier=sent)["raised"] == 0  # once per account, limit and hour
        later = privacy.watch(config, now=utcnow() + timedelta(minutes=61), notifier=sent)
        assert later["raised"] == 0  # an hour later the four searches are out of the window
    alert = PrivacyAlert.query.one()
    assert (alert.kind, alert.user_id, alert.detail["searches"], alert.detail["limit"]) == ("face_search_volume", reporter.id, 4, 3)
    assert alert.detail["username"] == "reporter1" and alert.station_id == reporter.station_id
    admin = app.test_client()
    login(admin, "admin1")
    page = admin.get("/admin/privacy").get_data(as_text=True)
    assert "reporter1" in page and "人脸检索量异常" in page


def test_a_station_processing_record_is_edited_by_an_admin_and_exported(app, db, users, stations, settings):
    admin = app.test_client()
    login(admin, "admin1")
    station = stations["main"]
    draft = admin.get(f"/admin/privacy/stations/{station.id}")
    assert draft.status_code == 200 and "履行法定职责" in draft.get_data(as_text=True)  # a draft from what the software does
    form = {name: "" for name in privacy.RECORD_FIELDS}
    form.update(controller="天津市河西区救助管理站", responsible_person="王站长", purpose="寻亲比对",
                legal_basis="履行法定职责", retention="返家后30天删除", assessment_reference="PIA-2026-01",
                assessed_on="2026-11-20", review_due_on="2027-11-20")
    bad = admin.post(f"/admin/privacy/stations/{station.id}", data={**form, "assessed_on": "20.11.2026"})
    assert bad.status_code == 422 and ProcessingRecord.query.count() == 0
    assert admin.post(f"/admin/privacy/stations/{station.id}", data=form).status_code == 302
    record = ProcessingRecord.query.one()
    assert (record.assessment_reference, str(record.review_due_on), record.updated_by_id) == ("PIA-2026-01", "2027-11-20", users["admin"].id)
    changed = AuditEntry.query.filter_by(action="processing_record.update").one()
    assert "assessment_reference" in changed.detail["fields"]

    export = admin.get(f"/admin/privacy/stations/{station.id}/record.md")
    assert export.status_code == 200 and export.mimetype == "text/markdown"
    assert "attachment" in export.headers["Content-Disposition"] and "TJHX" in export.headers["Content-Disposition"]
    text = export.get_data(as_text=True)
    for expected in ("# 人脸信息处理活动记录", "王站长", "PIA-2026-01", "2027-11-20", "AES-256-GCM", "寻亲比对"):
        assert expected in text
    assert AuditEntry.query.filter_by(action="processing_record.export").count() == 1
    overview = admin.get("/admin/privacy").get_data(as_text=True)
    assert "PIA-2026-01" in overview and "2027-11-20" in overview

    staff = app.test_client()
    login(staff, "super1")
    assert staff.get(f"/admin/privacy/stations/{station.id}/record.md").status_code == 403


def test_erasure_takes_the_templates_with_the_faces_and_no_template_is_left_without_a_face(db, users, settings, faces_dir):
    case = register_arrival(users["staff"], {}, [photo(faces_dir, "Tony_Blair", 1)], settings).case
    process_all(settings)
    template_ids = [f.template_id for f in Face.query.filter_by(owner_kind="case", owner_id=case.id)]
    assert template_ids and FaceTemplate.query.count() == len(template_ids)
    case.state, case.closed_at = "returned", utcnow() - timedelta(days=settings.biometric_retention_days + 1)
    db.session.commit()
    result = retention.erase_case_biometrics(case.id, settings)
    assert FaceTemplate.query.count() == 0 and result["faces"] == len(template_ids)
    erased = AuditEntry.query.filter_by(action="biometric.erase").one()
    assert erased.detail["templates"] == len(template_ids)
    # A template whose face went another way (a deleted photo, a crashed clean-up) goes with the next sweep.
    from service.matching.templates import new_template

    with db.session.begin_nested():
        db.session.add(new_template("sface-x", [0.1] * 128))
    db.session.commit()
    assert retention.erase_due(settings) == 0 and FaceTemplate.query.count() == 0


def _flask(args, env):
    return subprocess.run([sys.executable, "-m", "flask", "--app", "service", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_a_missing_or_malformed_template_key_stops_boot_and_make_runs_key_file_is_read(tmp_path, test_env):
    env = child_env(test_env)
    env.pop("HUIJIA_TEMPLATE_KEY")
    env["HUIJIA_INSTANCE_DIR"] = str(tmp_path)
    missing = _flask(["routes"], env)
    assert missing.returncode != 0 and "HUIJIA_TEMPLATE_KEY is not set" in missing.stderr
    short = _flask(["routes"], {**env, "HUIJIA_TEMPLATE_KEY": "AAAA"})
    assert short.returncode != 0 and "must hold 32 bytes" in short.stderr
    garbled = _flask(["routes"], {**env, "HUIJIA_TEMPLATE_KEY": "not base64!"})
    assert garbled.returncode != 0 and "URL-safe base64" in garbled.stderr
    (tmp_path / "template_key").write_text("A" * 43 + "\n")  # what scripts/run.sh writes: 32 bytes, URL-safe base64
    status = _flask(["templates", "status"], env)
    assert status.returncode == 0, status.stderr
    assert "current key id:" in status.stdout
