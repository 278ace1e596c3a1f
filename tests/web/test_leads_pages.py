"""Street-lead pages through the Flask test client: the reporter's phone page, dispatch desk, campaigns."""
from __future__ import annotations

import io

import pytest

from service.models import AuditEntry, Case, Lead, User
from service.services import leads
from tests.conftest import unique_key, login

PLACE = {"place": "河西区小白楼地铁站C口", "lat": "39.1152", "lng": "117.2071"}


@pytest.fixture()
def reporter_client(app, users):
    c = app.test_client()
    login(c, "reporter1")
    return c


def test_reporter_lands_on_the_report_page_and_sees_nothing_else(reporter_client, db):
    home = reporter_client.get("/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/report")
    page = reporter_client.get("/report").get_data(as_text=True)
    assert "报告求助人员" in page and 'capture="environment"' in page and "report.js" in page
    assert "入站登记" not in page and "/cases" not in page  # the nav has the reporter's two links only
    for path in ("/cases", "/intake", "/review", "/reports", "/dispatch", "/campaigns", "/queues/overdue"):
        assert reporter_client.get(path).status_code == 403, path


def test_reporter_sends_from_the_form_and_follows_the_lead(reporter_client, db, face_photo):
    key = unique_key()
    data = {**PLACE, "idempotency_key": key, "urgency": ["cold"], "description": "蜷缩在出口",
            "photos": (io.BytesIO(face_photo), "p.jpg")}
    resp = reporter_client.post("/report", data=data, content_type="multipart/form-data")
    assert resp.status_code == 302
    lead = Lead.query.one()
    assert resp.headers["Location"].endswith(f"/report/{lead.id}")
    # the page's script resends with the same key after a dropped connection: one lead, JSON answer
    again = reporter_client.post("/report", data={**PLACE, "idempotency_key": key, "photos": (io.BytesIO(face_photo), "p.jpg")},
                                 content_type="multipart/form-data", headers={"Accept": "application/json"})
    assert again.status_code == 200 and again.get_json()["id"] == lead.id and Lead.query.count() == 1
    mine = reporter_client.get(f"/report/{lead.id}").get_data(as_text=True)
    assert "比对中" in mine and "河西区小白楼" in mine
    assert reporter_client.get("/report/mine").status_code == 200
    bad = reporter_client.post("/report", data={"idempotency_key": unique_key()}, headers={"Accept": "application/json"})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "place"


def test_a_reporter_cannot_open_another_reporters_lead(app, users, db, settings, reporter_client):
    other = leads.report_lead(users["other_reporter"], PLACE, [], settings).lead
    assert reporter_client.get(f"/report/{other.id}").status_code == 404


def test_dispatch_desk_and_a_lead_page(staff_client, users, db, settings, face_photo):
    from service.services.intake import Upload

    lead = leads.report_lead(users["reporter"], {**PLACE, "urgency": ["injured"]}, [Upload("p.jpg", face_photo)], settings).lead
    desk = staff_client.get("/dispatch").get_data(as_text=True)
    assert f'data-lead="{lead.id}"' in desk and "受伤" in desk and "leaflet.js" in desk and "117.2071" in desk
    page = staff_client.get(f"/dispatch/{lead.id}").get_data(as_text=True)
    assert f"/media/photos/{lead.photos[0].sha256}.jpg" in page and "派遣小组" in page
    assert AuditEntry.query.filter_by(action="lead.view", object_id=lead.id).count() == 1
    assert staff_client.get(f"/media/photos/{lead.photos[0].sha256}.jpg").status_code == 200
    staff_client.post(f"/dispatch/{lead.id}/assign", data={"team": "巡查二组"})
    staff_client.post(f"/dispatch/{lead.id}/on-site")
    assert Lead.query.get(lead.id).status == "on_site"
    form = staff_client.get(f"/intake?lead={lead.id}").get_data(as_text=True)
    assert f'name="lead_id" value="{lead.id}"' in form and "39.1152" in form and "河西区小白楼地铁站C口" in form
    resp = staff_client.post("/intake", data={"lead_id": str(lead.id), "found_place": PLACE["place"], "found_lat": "39.1152",
                                              "found_lng": "117.2071", "gender": "male", "idempotency_key": unique_key(),
                                              "categories_present": "1", "categories": ["ill"]})
    assert resp.status_code == 302
    case = Case.query.one()
    assert resp.headers["Location"].endswith(f"/cases/{case.id}") and len(case.photos) == 1
    assert Lead.query.get(lead.id).outcome == "brought_in"


def test_other_station_staff_get_404(app, users, db, settings):
    lead = leads.report_lead(users["reporter"], PLACE, [], settings).lead
    c = app.test_client()
    login(c, "staff2")
    assert c.get(f"/dispatch/{lead.id}").status_code == 404
    assert c.get(f"/intake?lead={lead.id}").status_code == 404


def test_supervisor_opens_a_campaign_exports_it_and_creates_a_reporter(app, users, db, settings):
    c = app.test_client()
    login(c, "super1")
    resp = c.post("/campaigns", data={"name": "寒潮专项", "kind": "cold_wave", "starts_on": "2026-11-20", "ends_on": "2027-03-01"})
    assert resp.status_code == 302
    campaign_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    leads.report_lead(users["reporter"], {**PLACE, "place": "=HYPERLINK(\"x\")"}, [], settings)
    page = c.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert "寒潮专项" in page and 'data-testid="c-leads">1<' in page
    csv = c.get(f"/campaigns/{campaign_id}.csv")
    text = csv.get_data(as_text=True)
    assert csv.mimetype == "text/csv" and text.splitlines()[0].lstrip("\ufeff").startswith("lead_id,reported_at")
    assert "'=HYPERLINK" in text  # formula neutralised
    made = c.post("/reporters", data={"username": "driver7", "password": "long-enough-pw", "source": "driver", "phone": "139"})
    assert made.status_code == 302
    user = User.query.filter_by(username="driver7").one()
    assert (user.role, user.reporter_source, user.station_id) == ("reporter", "driver", users["supervisor"].station_id)
    assert c.post("/reporters", data={"username": "x", "password": "short"}).status_code == 302
    assert User.query.filter_by(username="x").count() == 0


def test_a_photo_sent_in_chunks_resumes_where_it_broke_off(reporter_client, app, users, db, settings, faces_dir):
    photo = (faces_dir / "Barack_Obama" / "2.jpg").read_bytes()
    key = unique_key()
    url = f"/report/upload/{key}"
    assert reporter_client.get(url).get_json() == {"offset": 0}
    assert reporter_client.put(f"{url}?offset=0", data=photo[:65536]).get_json() == {"offset": 65536}
    # the connection broke; the phone sends a chunk from the wrong place: refused with where to continue
    stale = reporter_client.put(f"{url}?offset=0", data=photo[:65536])
    assert stale.status_code == 409 and stale.get_json()["offset"] == 65536
    assert reporter_client.get(url).get_json() == {"offset": 65536}
    assert reporter_client.put(f"{url}?offset=65536", data=photo[65536:]).get_json() == {"offset": len(photo)}
    resp = reporter_client.post("/report", data={**PLACE, "idempotency_key": key, "upload_key": key},
                                headers={"Accept": "application/json"})
    assert resp.status_code == 201, resp.get_json()
    lead = Lead.query.one()
    assert [p.size_bytes for p in lead.photos] == [len(photo)]
    assert reporter_client.get(url).get_json() == {"offset": 0}  # the part is gone once the lead has it
    # another reporter writes into their own part, never into this one
    other = app.test_client()
    login(other, "reporter2")
    assert other.put(f"{url}?offset=0", data=b"x" * 10).get_json() == {"offset": 10}
    assert reporter_client.get(url).get_json() == {"offset": 0}


def test_chunked_upload_limits(reporter_client, settings):
    key = unique_key()
    assert reporter_client.put("/report/upload/bad key!", data=b"x").status_code in (404, 422)
    assert reporter_client.put(f"/report/upload/{key}", data=b"x").status_code == 422  # no offset
    big = reporter_client.put(f"/report/upload/{key}?offset=0", data=b"x" * (1024 * 1024 + 1))
    assert big.status_code == 422 and big.get_json()["error"]["field"] == "chunk"


def test_unfinished_parts_are_swept_after_a_day(reporter_client, users, settings):
    import os
    import time

    from service.services import uploads

    key = unique_key()
    reporter_client.put(f"/report/upload/{key}?offset=0", data=b"partial")
    part = settings.media_dir / "uploads" / f"{users['reporter'].id}-{key}.part"
    assert part.exists()
    assert uploads.sweep(settings) == 0
    old = time.time() - 2 * 24 * 3600
    os.utime(part, (old, old))
    assert uploads.sweep(settings) == 1 and not part.exists()


def test_two_chunks_for_the_same_offset_at_once_write_once(app, users, db, settings):
    """Two tabs or a retry while the first request runs: the part never holds a chunk twice."""
    import threading
    from types import SimpleNamespace

    from service.services import uploads

    reporter = SimpleNamespace(id=users["reporter"].id)  # the threads have no app context: only the id is read
    for _ in range(20):
        key = unique_key()
        barrier, results = threading.Barrier(2), []

        def put():
            barrier.wait()
            try:
                results.append(uploads.append(reporter, key, 0, b"x" * 65536, settings))
            except uploads.OffsetMismatch as exc:
                results.append(("conflict", exc.offset))

        threads = [threading.Thread(target=put) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(map(str, results)) == sorted(map(str, [65536, ("conflict", 65536)])), results
        assert uploads.offset(reporter, key, settings) == 65536
        uploads.discard(reporter, key, settings)


def test_a_reporter_has_at_most_five_unfinished_uploads(reporter_client, users, settings):
    from service.services import uploads

    keys = [unique_key() for _ in range(6)]
    codes = [reporter_client.put(f"/report/upload/{k}?offset=0", data=b"x").status_code for k in keys]
    assert codes == [200] * 5 + [422]
    for k in keys:
        uploads.discard(users["reporter"], k, settings)
