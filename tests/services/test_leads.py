"""Street leads through the real services, the real SFace engine and real photographs."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from service.domain.errors import Conflict, InvalidValue, NotFound
from service.models import AuditEntry, CandidateMatch, Case, CaseEvent, Face, Lead, Photo
from service.services import campaigns, leads, stats
from service.matching import candidates, photos as pipeline
from service.services.cases import visible_cases
from service.services.intake import Upload
from service.media import PhotoRejected
from service.services.reports import create_report
from tests.conftest import unique_key
from tests.support.faces import fresh_index, photo, process_all  # noqa: F401  (fresh_index: a fixture)

PLACE = {"place": "河西区友谊路与黑牛城道交口", "lat": "39.0851", "lng": "117.2010", "accuracy_m": "12"}


pytestmark = pytest.mark.usefixtures("fresh_index")


def send(users, settings, uploads=(), who="reporter", **fields):
    return leads.report_lead(users[who], {**PLACE, **fields}, list(uploads), settings, idempotency_key=unique_key())


def test_a_lead_is_kept_with_its_photo_and_a_resend_makes_no_second_one(db, users, settings, face_photo):
    key = unique_key()
    first = leads.report_lead(users["reporter"], {**PLACE, "urgency": ["cold", "minor"]}, [Upload("a.jpg", face_photo)],
                              settings, idempotency_key=key)
    again = leads.report_lead(users["reporter"], {**PLACE, "urgency": ["cold", "minor"]}, [Upload("a.jpg", face_photo)],
                              settings, idempotency_key=key)
    assert first.created and not again.created and again.lead.id == first.lead.id
    assert Lead.query.count() == 1 and Photo.query.filter_by(lead_id=first.lead.id).count() == 1
    lead = first.lead
    assert (lead.station_id, lead.source, lead.urgency, lead.status, lead.face_check) == (
        users["reporter"].station_id, "patrol", ["cold", "minor"], "open", "pending")
    assert (round(lead.lat, 4), round(lead.lng, 4)) == (39.0851, 117.201)
    assert send(users, settings, source="police").lead.source == "patrol"  # a reporter files as their account says
    with pytest.raises(Conflict):  # another reporter cannot take over a key
        leads.report_lead(users["other_reporter"], PLACE, [], settings, idempotency_key=key)


@pytest.mark.parametrize("fields,field", [
    ({"place": "", "lat": None, "lng": None}, "place"),
    ({"lat": "95"}, "lat"),
    ({"urgency": ["hungry"]}, "urgency"),
    ({"seen_at": "2020-01-01T08:00:00+08:00"}, "seen_at"),
    ({"description": "x" * 2001}, "description"),
])
def test_bad_leads_are_refused_and_nothing_is_kept(db, users, settings, fields, field):
    with pytest.raises(InvalidValue) as exc:
        leads.report_lead(users["reporter"], {**PLACE, **fields}, [], settings)
    assert exc.value.field == field
    assert Lead.query.count() == 0


def test_staff_name_the_source_and_it_is_checked(db, users, settings):
    assert send(users, settings, who="staff", source="driver").lead.source == "driver"
    with pytest.raises(InvalidValue):
        send(users, settings, who="staff", source="alien")


def test_a_non_image_photo_is_refused(db, users, settings):
    with pytest.raises(PhotoRejected):
        send(users, settings, [Upload("x.jpg", b"not an image at all" * 50)])
    with pytest.raises(InvalidValue):
        send(users, settings, [Upload(f"{n}.jpg", b"x") for n in range(4)])
    assert Lead.query.count() == 0 and Photo.query.count() == 0


def test_face_check_finds_the_report_and_tells_the_reporter_only_that(db, users, settings, faces_dir):
    report = create_report(users["staff"], {"name": "Barack_Obama", "gender": "male"}, [photo(faces_dir, "Barack_Obama", 1)],
                           settings).report
    process_all(settings)
    lead = send(users, settings, [photo(faces_dir, "Barack_Obama", 3)]).lead
    process_all(settings)
    result = candidates.match_lead(lead.id, settings)
    lead = db.session.get(Lead, lead.id)
    assert result["face_check"] == "known" and lead.face_check == "known"
    assert [(c["kind"], c["report_id"]) for c in lead.face_candidates][:1] == [("gallery", report.id)]
    view = leads.reporter_view(lead)
    assert set(view) == {"id", "reported_at", "seen_at", "place", "lat", "lng", "urgency", "status", "outcome",
                         "face_check", "face_check_message", "photos"}
    assert view["face_check_message"] == "known to the station: staff will call"
    assert "Obama" not in str(view) and str(report.id) not in {str(v) for v in view.values() if v != lead.id}
    # The lead's face is a probe, never a gallery entry: a later arrival of the same man matches the report only.
    from service.services.intake import register_arrival

    case = register_arrival(users["staff"], {"gender": "male"}, [photo(faces_dir, "Barack_Obama", 2)], settings).case
    process_all(settings)
    candidates.match_case(case.id, settings)
    assert [(m.kind, m.report_id) for m in CandidateMatch.query.filter_by(case_id=case.id)] == [("gallery", report.id)]
    assert Face.query.filter_by(owner_kind="lead", owner_id=lead.id).count() >= 1


def test_a_stranger_is_not_known_and_no_photo_means_no_face(db, users, settings, faces_dir):
    create_report(users["staff"], {"name": "Barack_Obama"}, [photo(faces_dir, "Barack_Obama", 1)], settings)
    process_all(settings)
    stranger = send(users, settings, [photo(faces_dir, "Yao_Ming", 1)]).lead
    no_photo = send(users, settings).lead
    process_all(settings)
    candidates.match_lead(stranger.id, settings)
    assert db.session.get(Lead, stranger.id).face_check == "not_known"
    assert db.session.get(Lead, no_photo.id).face_check == "no_face"


def test_face_check_waits_for_every_photo_and_the_sweeper_finds_lost_checks(db, users, settings, faces_dir):
    lead = send(users, settings, [photo(faces_dir, "Yao_Ming", 1)]).lead
    assert candidates.match_lead(lead.id, settings)["result"] == "photos_pending"
    process_all(settings)
    db.session.execute(update(Lead).where(Lead.id == lead.id).values(updated_at=datetime.now(timezone.utc) - timedelta(hours=1)))
    db.session.commit()
    assert pipeline.stale_lead_checks(60) == [lead.id]  # the check's message was lost: the sweeper re-sends it
    candidates.match_lead(lead.id, settings)
    assert pipeline.stale_lead_checks(60) == []


def test_reporters_see_only_their_own_leads_and_no_case(db, users, settings):
    mine = send(users, settings).lead
    theirs = send(users, settings, who="other_reporter").lead
    reporter = users["reporter"]
    assert [lead.id for lead in db.session.scalars(leads.visible_leads(reporter))] == [mine.id]
    with pytest.raises(NotFound):
        leads.get_lead(reporter, theirs.id)
    from service.services.intake import register_arrival

    register_arrival(users["staff"], {"name": "张三"}, [], settings)
    assert db.session.scalars(visible_cases(reporter)).all() == []
    assert {lead.id for lead in db.session.scalars(leads.visible_leads(users["staff"]))} == {mine.id, theirs.id}
    assert db.session.scalars(leads.visible_leads(users["other_staff"])).all() == []  # another station


def test_brought_in_lead_becomes_an_arrival_with_its_photos_and_gps(db, users, settings, faces_dir):
    lead = send(users, settings, [photo(faces_dir, "Yao_Ming", 1)], who="staff", urgency=["injured"], source="driver",
                description="桥下，腿部受伤").lead
    t0 = lead.reported_at
    leads.assign(users["staff"], lead.id, "巡查一组", now=t0 + timedelta(minutes=5))
    case, created = leads.convert_to_arrival(users["staff"], lead.id, {"gender": "male", "age_min": "40", "age_max": "50"},
                                             [], settings, now=t0 + timedelta(minutes=70))
    assert created
    lead = db.session.get(Lead, lead.id)
    assert (lead.status, lead.outcome, lead.case_id) == ("closed", "brought_in", case.id)
    assert lead.on_site_at == t0 + timedelta(minutes=70)  # nobody pressed "on site": at the latest when brought in
    case = db.session.get(Case, case.id)
    assert [p.sha256 for p in case.photos] == [p.sha256 for p in lead.photos]
    assert (round(case.found_lat, 4), round(case.found_lng, 4), case.found_place) == (39.0851, 117.201, PLACE["place"])
    assert case.referral == "citizen" and "ill" in case.categories and case.description == "桥下，腿部受伤"
    assert case.found_at == lead.seen_at.replace(second=0, microsecond=0)
    assert CaseEvent.query.filter_by(case_id=case.id, kind="from_lead").count() == 1
    again, created_again = leads.convert_to_arrival(users["staff"], lead.id, {}, [], settings)
    assert again.id == case.id and not created_again and Case.query.count() == 1
    assert AuditEntry.query.filter_by(action="lead.brought_in", object_id=lead.id).count() == 1


def test_the_arrival_takes_over_the_leads_photo_and_face_rows_without_processing_again(db, users, settings, faces_dir,
                                                                                      monkeypatch):
    from service import tasking
    from service.extensions import celery
    from service.media import media_path
    from service.services import retention

    lead = send(users, settings, [photo(faces_dir, "Yao_Ming", 1)], who="staff").lead
    process_all(settings)
    candidates.match_lead(lead.id, settings)
    # The index has already read past the lead's face (a later report's face has a larger id).
    report = create_report(users["staff"], {"name": "Barack_Obama", "gender": "male"},
                           [photo(faces_dir, "Barack_Obama", 1)], settings).report
    process_all(settings)
    candidates.match_report(report.id, settings)
    [before] = db.session.scalars(select(Photo).where(Photo.lead_id == lead.id)).all()
    kept = (before.id, before.sha256, before.normalized_sha256, before.status, before.attempts, before.processed_at)
    face_rows = {f.id: (f.crop_sha256, f.template_id) for f in Face.query.filter_by(photo_id=before.id)}
    assert face_rows and {(f.owner_kind, f.owner_id) for f in Face.query.filter_by(photo_id=before.id)} == {("lead", lead.id)}
    photo_count = Photo.query.count()
    sent = []
    monkeypatch.setattr(celery, "send_task", lambda name, args=None, **kw: sent.append((name, args)))

    case, created = leads.convert_to_arrival(users["staff"], lead.id, {"gender": "male"}, [], settings)
    assert created
    db.session.expire_all()
    [after] = db.session.get(Case, case.id).photos
    assert (after.id, after.sha256, after.normalized_sha256, after.status, after.attempts, after.processed_at) == kept
    assert after.lead_id == lead.id and Photo.query.count() == photo_count  # the same row, nothing uploaded again
    faces = Face.query.filter_by(photo_id=after.id).all()
    assert {f.id: (f.crop_sha256, f.template_id) for f in faces} == face_rows
    assert {(f.owner_kind, f.owner_id) for f in faces} == {("case", case.id)}
    assert all(media_path(settings.media_dir, sha, "jpg").exists() for sha in [after.normalized_sha256, *(
        crop for crop, _ in face_rows.values())])
    assert sent == [(tasking.MATCH_CASE, [case.id])]  # matching queued; no photo sent to be processed again
    case = db.session.get(Case, case.id)
    assert case.matching_status == "pending" and {c.channel: c.status for c in case.channels}["face"] == "in_progress"

    assert candidates.match_case(case.id, settings)["probes"] == 1
    assert db.session.get(Case, case.id).matching_status == "done"
    # A report filed later finds the arrival through the lead's face, though the index had passed its id.
    later = create_report(users["staff"], {"name": "Yao_Ming", "gender": "male"}, [photo(faces_dir, "Yao_Ming", 2)],
                          settings).report
    process_all(settings)
    candidates.match_report(later.id, settings)
    assert [(m.case_id, m.report_id) for m in CandidateMatch.query.filter_by(report_id=later.id)] == [(case.id, later.id)]
    # The faces are the case's now: the lead's retention period no longer reaches them.
    assert retention.leads_due_for_erasure(0, now=datetime.now(timezone.utc) + timedelta(days=1)) == []


def test_photos_staff_add_at_the_arrival_are_processed_and_a_lead_photo_sent_again_is_not(db, users, settings, faces_dir,
                                                                                         monkeypatch):
    from service import tasking
    from service.extensions import celery

    lead = send(users, settings, [photo(faces_dir, "Yao_Ming", 1)], who="staff").lead
    [lead_photo] = lead.photos
    sent = []
    monkeypatch.setattr(celery, "send_task", lambda name, args=None, **kw: sent.append((name, args)))
    case, _ = leads.convert_to_arrival(users["staff"], lead.id, {}, [photo(faces_dir, "Yao_Ming", 1),
                                                                     photo(faces_dir, "Yao_Ming", 2)], settings)
    photos = db.session.get(Case, case.id).photos
    assert [p.id for p in photos][0] == lead_photo.id and len(photos) == 2  # the same picture again is one photo
    new = photos[1]
    assert (new.lead_id, new.status) == (None, "pending")
    # The lead's photo, still pending, is finished by its own message: only the new one is sent to be processed.
    assert sent == [(tasking.MATCH_CASE, [case.id]), (tasking.PROCESS_PHOTO, [new.id])]
    process_all(settings)
    assert {(f.owner_kind, f.owner_id) for f in Face.query.all()} == {("case", case.id)}


def test_two_conversions_at_once_make_one_arrival_with_the_photo(app, db, users, settings, faces_dir, monkeypatch):
    """A double click on "registered": the second waits on the lead's row lock, then answers with the first case."""
    import threading

    from service.extensions import celery
    from service.models import User

    lead = send(users, settings, [photo(faces_dir, "Yao_Ming", 1)], who="staff").lead
    process_all(settings)
    lead_id, staff_id = lead.id, users["staff"].id
    db.session.rollback()
    monkeypatch.setattr(celery, "send_task", lambda *a, **k: None)
    gate, results = threading.Barrier(2), [None, None]

    def run(i):
        with app.app_context():
            try:
                actor = db.session.get(User, staff_id)
                gate.wait()
                case, created = leads.convert_to_arrival(actor, lead_id, {"gender": "male"}, [], settings)
                results[i] = (case.id, created)
            except Exception as exc:  # noqa: BLE001  (shown by the assertion below)
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r[1] for r in results) == [False, True] and results[0][0] == results[1][0], results
    case_id = results[0][0]
    assert Case.query.count() == 1 and db.session.get(Lead, lead_id).case_id == case_id
    assert [p.lead_id for p in Photo.query.filter_by(case_id=case_id)] == [lead_id] and Photo.query.count() == 1


def test_dispatch_steps_and_closing(db, users, settings):
    lead = send(users, settings).lead
    with pytest.raises(Conflict):
        leads.mark_on_site(users["staff"], lead.id)  # nobody was sent yet
    leads.assign(users["staff"], lead.id, "二组")
    leads.mark_on_site(users["staff"], lead.id)
    with pytest.raises(InvalidValue):
        leads.close(users["staff"], lead.id, "brought_in")  # that is the arrival form's job
    closed = leads.close(users["staff"], lead.id, "refused_help", "不愿意去救助站，已送棉衣")
    assert (closed.status, closed.outcome) == ("closed", "refused_help")
    with pytest.raises(Conflict):
        leads.assign(users["staff"], lead.id, "三组")
    with pytest.raises(NotFound):
        leads.assign(users["other_staff"], lead.id, "x")


def test_open_leads_most_urgent_first(db, users, settings):
    plain = send(users, settings).lead
    injured = send(users, settings, urgency=["injured"]).lead
    cold = send(users, settings, urgency=["cold"]).lead
    assert [lead.id for lead in leads.open_leads(users["staff"])] == [injured.id, cold.id, plain.id]


def test_campaign_counts_leads_patrols_and_arrivals_together(db, users, settings):
    from service.domain.deadlines import CHINA_TZ
    from service.services.intake import register_arrival

    today = datetime.now(timezone.utc).astimezone(CHINA_TZ).date()
    early = send(users, settings).lead  # before the campaign was opened, inside its days: counted too
    campaign = campaigns.open_campaign(users["supervisor"], {"name": "寒潮专项", "kind": "cold_wave",
                                                             "starts_on": (today - timedelta(days=1)).isoformat(),
                                                             "ends_on": (today + timedelta(days=3)).isoformat()})
    t0 = datetime.now(timezone.utc)
    fast = send(users, settings, urgency=["cold"]).lead
    leads.assign(users["staff"], fast.id, "一组", now=fast.reported_at + timedelta(minutes=10))
    leads.mark_on_site(users["staff"], fast.id, now=fast.reported_at + timedelta(minutes=35))
    leads.convert_to_arrival(users["staff"], fast.id, {}, [], settings, now=fast.reported_at + timedelta(minutes=80))
    slow = send(users, settings, who="staff", source="volunteer").lead
    leads.assign(users["staff"], slow.id, "二组")
    leads.mark_on_site(users["staff"], slow.id, now=slow.reported_at + timedelta(minutes=95))
    leads.close(users["staff"], slow.id, "not_found")
    campaigns.log_patrol(users["staff"], {"team": "一组", "area": "河西", "people_contacted": "7", "people_brought_in": "2"})
    register_arrival(users["staff"], {"referral": "police"}, [], settings)
    assert db.session.get(Lead, early.id).campaign_id == campaign.id
    report = campaigns.campaign_report(users["supervisor"], campaign, now=t0 + timedelta(days=1))
    numbers = report["leads"]
    # early: never answered (late); fast: 35 min (within); slow: 95 min (late)
    assert (numbers["leads"], numbers["decided"], numbers["answered_within_hour"]) == (3, 3, 1)
    assert numbers["share_within_hour"] == round(1 / 3, 4)
    assert numbers["median_minutes_to_on_site"] == 65.0
    assert numbers["by_source"] == {"patrol": 2, "volunteer": 1}
    assert numbers["by_outcome"] == {"brought_in": 1, "not_found": 1, "open": 1}
    assert report["patrols"] == {"runs": 1, "people_contacted": 7, "people_brought_in": 2}
    assert report["arrivals"]["total"] == 2 and report["arrivals"]["from_leads"] == 1
    assert report["arrivals"]["by_referral"] == {"patrol": 1, "police": 1}
    summary = stats.summary(users["supervisor"], stats.parse_range({}), now=t0 + timedelta(days=1))["leads"]
    assert summary["leads"] == 3 and summary["share_within_hour"] == round(1 / 3, 4)
    assert [c["campaign_id"] for c in summary["campaigns"]] == [campaign.id]


@pytest.mark.parametrize("raw,field", [
    ({"name": "", "starts_on": "2026-12-01", "ends_on": "2026-12-02"}, "name"),
    ({"name": "x", "starts_on": "2026-12-05", "ends_on": "2026-12-02"}, "ends_on"),
    ({"name": "x", "kind": "party", "starts_on": "2026-12-01", "ends_on": "2026-12-02"}, "kind"),
    ({"name": "x", "starts_on": "01/12/2026", "ends_on": "2026-12-02"}, "starts_on"),
])
def test_bad_campaigns_are_refused(db, users, raw, field):
    with pytest.raises(InvalidValue) as exc:
        campaigns.open_campaign(users["supervisor"], raw)
    assert exc.value.field == field


def test_patrol_counts_are_checked(db, users):
    with pytest.raises(InvalidValue):
        campaigns.log_patrol(users["staff"], {"team": "一组", "people_contacted": "1", "people_brought_in": "3"})
    with pytest.raises(InvalidValue):
        campaigns.log_patrol(users["staff"], {"team": ""})


def test_a_closed_leads_face_templates_are_erased_after_retention(db, users, settings, faces_dir):
    from service.services import retention

    lead = send(users, settings, [photo(faces_dir, "Yao_Ming", 1)]).lead
    kept = send(users, settings, [photo(faces_dir, "Barack_Obama", 1)]).lead
    process_all(settings)
    leads.close(users["staff"], lead.id, "refused_help", now=datetime.now(timezone.utc) - timedelta(days=40))
    crops = [f.crop_sha256 for f in Face.query.filter_by(owner_kind="lead", owner_id=lead.id)]
    assert crops and retention.leads_due_for_erasure(30) == [lead.id]  # the open lead keeps its faces
    assert retention.erase_lead_biometrics(lead.id, settings)["faces"] == len(crops)
    assert Face.query.filter_by(owner_kind="lead", owner_id=lead.id).count() == 0
    from service.media import media_path

    assert crops and not any(media_path(settings.media_dir, sha, "jpg").exists() for sha in crops)
    assert Face.query.filter_by(owner_kind="lead", owner_id=kept.id).count() >= 1
    assert Photo.query.filter_by(lead_id=lead.id).count() == 1  # the photo stays with the record
    assert retention.leads_due_for_erasure(30) == []


def test_a_campaign_opened_late_takes_the_patrols_already_in_its_days(db, users):
    from service.domain.deadlines import CHINA_TZ

    run = campaigns.log_patrol(users["staff"], {"team": "一组", "people_contacted": "4"})
    today = datetime.now(timezone.utc).astimezone(CHINA_TZ).date()
    campaign = campaigns.open_campaign(users["supervisor"], {"name": "高温", "kind": "heat_wave",
                                                             "starts_on": (today - timedelta(days=2)).isoformat(),
                                                             "ends_on": today.isoformat()})
    assert db.session.get(type(run), run.id).campaign_id == campaign.id
    assert campaigns.campaign_report(users["supervisor"], campaign)["patrols"]["people_contacted"] == 4
