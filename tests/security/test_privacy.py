"""Privacy: every view of a face or an ID number is audited; media need login; files and notices hold no ID.

The walk is generated from the URL map: every GET route, with real ids and hashes filled in and each
`reveal`/`format` variant, is fetched by a logged-in supervisor (pages by session, API by token).
Whatever answers with a face (an image, a PDF, an embedded data: image) or with a full ID number
must have written an audit row during that request — a new route that shows a face without an
audit row fails here. Exports, data-exchange files and notices must never contain an ID number.
"""
from __future__ import annotations

import io
import re
import zipfile

import pytest
from sqlalchemy import func, select

from service.domain.identity import mask_id_number
from service.models import AuditEntry, CandidateMatch, Face, Photo
from service.matching import candidates, photos as pipeline
from tests.conftest import login

ID_NUMBER = "11010519491231002X"  # the arrival's resident ID (valid checksum: a woman born 1949-12-31)
COLLECTOR_ID = "110105198001010016"  # typed by the clerk when family collects another person
FREE_TEXT_ID = "320102199003071239"  # typed by a clerk into the marks, description and found place of a third arrival
QUERIES = ["", "?reveal=id", "?reveal=id_number", "?format=json", "?format=html", "?format=png", "?format=pdf",
           "?format=csv", "?format=pfif", "?format=xlsx"]
FILE_ROUTES = ("/exports/", "/exchange/", "/notice", "/queues/", "/api/v1/queues/")


@pytest.fixture(autouse=True)
def quiet_broker(monkeypatch):
    from service.extensions import celery

    monkeypatch.setattr(celery, "send_task", lambda *a, **k: None)


@pytest.fixture()
def world(app, api, db, settings, faces_dir):
    """A case with an ID number (also typed into its marks), its processed photo and face crop, a matching
    report, a candidate between them, and a case that left with a family member's ID number."""
    def upload(identity, n):
        return (io.BytesIO((faces_dir / identity / f"{n}.jpg").read_bytes()), f"{identity}-{n}.jpg")

    candidates.reset_indexes()
    sup = api["supervisor"]
    report_id = sup.post("/api/v1/reports", content_type="multipart/form-data", data={
        "name": "鲍某", "source": "family", "photos": [upload("Barack_Obama", 1)]}).get_json()["id"]
    case = sup.post("/api/v1/cases", content_type="multipart/form-data", data={
        "id_number": ID_NUMBER, "name": "鲍女士", "marks": f"左臂有疤，身份证 {ID_NUMBER}",
        "photos": [upload("Barack_Obama", 3)]}).get_json()
    free = sup.post("/api/v1/cases", json={"name": "自述", "marks": f"左臂有字 {FREE_TEXT_ID}",
                                           "description": f"自述身份证 {FREE_TEXT_ID}",
                                           "found_place": f"火车站 {FREE_TEXT_ID}"}).get_json()["id"]
    left = sup.post("/api/v1/cases", json={"name": "已接回", "age_min": 40, "age_max": 50}).get_json()["id"]
    assert sup.post(f"/api/v1/cases/{left}/verifications", json={"evidence": ["video_call"]}).status_code == 201
    resp = sup.post(f"/api/v1/cases/{left}/exit", json={
        "type": "family_pickup", "collector_name": "家属", "collector_id_number": COLLECTOR_ID, "relation": "子女"})
    assert resp.status_code == 200, resp.get_json()
    for photo_id in [p.id for p in Photo.query.filter_by(status="pending").order_by(Photo.id)]:
        pipeline.process_photo(photo_id, settings)
    candidates.match_report(report_id, settings)
    candidates.match_case(case["id"], settings)
    candidates.reset_indexes()
    photo = db.session.get(Photo, case["photos"][0]["id"])
    face = db.session.scalar(select(Face).where(Face.photo_id == photo.id, Face.crop_sha256.is_not(None)))
    candidate = db.session.scalar(select(CandidateMatch.id).limit(1))
    assert face is not None and candidate is not None, "the fixture needs a face crop and a candidate"
    job = sup.post("/api/v1/reports/import", content_type="multipart/form-data",
                   data={"file": (io.BytesIO("姓名\n张三\n".encode()), "r.csv")}).get_json()["job_id"]
    return {"case_id": case["id"], "report_id": report_id, "photo": photo, "face": face, "candidate_id": candidate,
            "job_id": job, "left_id": left, "free_id": free}


def _url(rule, w) -> str:
    values = {"case_id": w["case_id"], "report_id": w["report_id"], "candidate_id": w["candidate_id"],
              "job_id": w["job_id"], "photo_id": w["photo"].id, "face_id": w["face"].id, "channel": "portal",
              "kind": "extension_approved", "fmt": "png", "code": "en"}

    def fill(match):
        name = match[2]
        if name == "sha256":
            return w["face"].crop_sha256 if "crop" in rule.rule else w["photo"].sha256
        return str(values.get(name, "1"))

    return re.sub(r"<(?:(\w+):)?(\w+)>", fill, rule.rule)


def _texts(resp) -> str:
    """The response as text to search for ID numbers (a spreadsheet is unzipped first)."""
    body = resp.get_data()
    if body.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(body)) as book:
            return "\n".join(book.read(n).decode("utf-8", "replace") for n in book.namelist())
    for codec in ("utf-8-sig", "utf-16"):
        try:
            return body.decode(codec)
        except UnicodeDecodeError:
            continue
    return body.decode("latin-1")


def _shows_face(resp) -> bool:
    return resp.mimetype.startswith("image/") or resp.mimetype == "application/pdf" or b"data:image/" in resp.get_data()


def test_every_view_of_a_face_or_an_id_number_is_audited(app, db, users, world):
    from service.services.users import issue_token

    browser = app.test_client()
    login(browser, "super1")
    token = {"Authorization": f"Bearer {issue_token(users['supervisor'], 1)[0]}"}
    me = users["supervisor"].id
    unaudited, faces, reveals = [], set(), set()
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint in ("static", "auth.login"):
            continue
        base = _url(rule, world)
        for query in QUERIES:
            before = db.session.scalar(select(func.max(AuditEntry.id))) or 0
            api = rule.rule.startswith("/api/")
            resp = browser.get(base + query, headers=token) if api else browser.get(base + query)
            if resp.status_code != 200:
                continue
            face, revealed = _shows_face(resp), any(n in _texts(resp) for n in (ID_NUMBER, COLLECTOR_ID, FREE_TEXT_ID))
            if not (face or revealed):
                continue
            db.session.expire_all()
            rows = db.session.scalars(select(AuditEntry).where(AuditEntry.id > before, AuditEntry.user_id == me)).all()
            what = f"GET {base}{query} ({'face' if face else ''}{' id' if revealed else ''})"
            (faces if face else reveals).add(rule.endpoint)
            if not rows:
                unaudited.append(what)
            elif revealed and not any("revealed" in str(r.detail) for r in rows):
                unaudited.append(what + ": the audit row does not say the ID number was revealed")
    print(f"privacy walk: faces served by {sorted(faces)}; full ID numbers by {sorted(reveals)}")
    assert unaudited == [], "\n".join(unaudited)
    # The walk reached what serves faces and ID numbers (else it proved nothing).
    assert {"media.photo", "media.crop", "api.photo_content", "api.crop_content"} <= faces, faces
    assert {"cases.show_case", "api.case_detail"} <= reveals, reveals


def test_reveal_is_audited_as_revealed_and_masked_otherwise(api, db, world):
    masked = api["staff"].get(f"/api/v1/cases/{world['case_id']}").get_json()
    assert masked["id_number"] != ID_NUMBER and ID_NUMBER not in str(masked)
    shown = api["staff"].get(f"/api/v1/cases/{world['case_id']}?reveal=id_number").get_json()
    assert shown["id_number"] == ID_NUMBER
    details = [r.detail for r in AuditEntry.query.filter_by(action="case.view").order_by(AuditEntry.id)]
    assert details[-2:] == [{"via": "api", "id_number": "masked"}, {"via": "api", "id_number": "revealed"}]


def test_media_need_login_and_are_not_guessable(app, api, db, world, settings):
    anonymous = app.test_client()
    photo, face = world["photo"], world["face"]
    for url in (f"/media/photos/{photo.sha256}.jpg", f"/media/crops/{face.crop_sha256}.jpg"):
        resp = anonymous.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    for url in (f"/api/v1/photos/{photo.sha256}", f"/api/v1/crops/{face.crop_sha256}"):
        assert api[None].get(url).status_code == 401
    # Addressed by a 256-bit content hash, never by a row id or a name; not under /static.
    assert re.fullmatch(r"[0-9a-f]{64}", photo.sha256)
    assert api["staff"].get(f"/api/v1/photos/{photo.id}").status_code == 404
    other = app.test_client()
    login(other, "staff1")
    assert other.get(f"/media/photos/{photo.id}.jpg").status_code == 404
    assert other.get(f"/media/photos/{photo.sha256[:-1]}0.jpg").status_code == 404
    assert other.get(f"/static/../instance/media/{photo.sha256}.jpg").status_code == 404
    assert not list(app.static_folder and __import__("pathlib").Path(app.static_folder).rglob(f"{photo.sha256}*"))
    # Another station's staff cannot see the photo, and cannot tell that it exists.
    stranger = app.test_client()
    login(stranger, "staff2")
    assert stranger.get(f"/media/photos/{photo.sha256}.jpg").status_code == 404
    assert api["other_staff"].get(f"/api/v1/photos/{photo.sha256}").status_code == 404
    assert api["other_staff"].get(f"/api/v1/crops/{face.crop_sha256}").status_code == 404


def test_exports_and_notices_contain_no_id_number(app, api, db, users, world):
    """Every file and notice route, in every format, as a supervisor and as an admin: no ID number."""
    leaks, served = [], 0
    for role in ("supervisor", "admin"):
        browser = app.test_client()
        login(browser, {"supervisor": "super1", "admin": "admin1"}[role])
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or not any(part in rule.rule for part in FILE_ROUTES):
                continue
            for query in QUERIES[3:]:
                url = _url(rule, world) + query
                api_route = rule.rule.startswith("/api/")
                resp = api[role].get(url) if api_route else browser.get(url)
                if resp.status_code != 200:
                    continue
                served += 1
                text = _texts(resp)
                for secret in (ID_NUMBER, COLLECTOR_ID, FREE_TEXT_ID, ID_NUMBER[:17]):
                    if secret in text:
                        leaks.append(f"{role} GET {url}: contains {secret}")
    assert leaks == [], "\n".join(leaks)
    assert served >= 8, "the walk found too few export or notice answers to prove anything"


def _last_case_view(db):
    db.session.expire_all()
    return db.session.scalar(select(AuditEntry).where(AuditEntry.action == "case.view").order_by(AuditEntry.id.desc()).limit(1))


def test_an_id_number_typed_into_free_text_is_masked_in_views(app, api, db, world):
    """An ID number typed into free text is masked like the ID number (first 3 and last 4 kept) by the case API
    (detail, list, channels), the case page, and candidate evidence (API and review page)."""
    free, masked = world["free_id"], mask_id_number(FREE_TEXT_ID)
    step = api["staff"].post(f"/api/v1/cases/{free}/channels/dna/events", json={
        "status": "in_progress", "note": f"比对 {FREE_TEXT_ID}", "fields": {"kind": "requested", "police_office": "河西分局"}})
    assert step.status_code == 201, step.get_json()
    body = api["staff"].get(f"/api/v1/cases/{free}").get_json()
    assert FREE_TEXT_ID not in str(body)
    assert (body["marks"], body["description"], body["found_place"]) == (
        f"左臂有字 {masked}", f"自述身份证 {masked}", f"火车站 {masked}")
    assert f"比对 {masked}" in str(body["channels"])
    assert _last_case_view(db).detail == {"via": "api", "id_number": "masked"}
    listed = api["staff"].get("/api/v1/cases?per_page=100").get_json()
    assert FREE_TEXT_ID not in str(listed) and f"火车站 {masked}" in str(listed)
    channels = api["staff"].get(f"/api/v1/cases/{free}/channels").get_json()
    assert FREE_TEXT_ID not in str(channels) and f"比对 {masked}" in str(channels)

    browser = app.test_client()
    login(browser, "staff1")
    page = browser.get(f"/cases/{free}").get_data(as_text=True)
    assert FREE_TEXT_ID not in page and page.count(masked) == 4  # marks, description, found place, the step's note
    assert 'data-testid="reveal-free-text"' in page, "a case without a structured ID offers the reveal too"
    assert _last_case_view(db).detail == {"id_number": "masked"}
    page = browser.get(f"/cases/{world['case_id']}").get_data(as_text=True)
    assert ID_NUMBER not in page and f"左臂有疤，身份证 {mask_id_number(ID_NUMBER)}" in page

    # Candidate evidence quotes the arrival's marks: masked in the API and on the review page.
    for url in (f"/api/v1/cases/{world['case_id']}/candidates", f"/api/v1/reports/{world['report_id']}/candidates"):
        items = api["staff"].get(url).get_json()["items"]
        assert items and ID_NUMBER not in str(items)
        assert mask_id_number(ID_NUMBER) in str(items[0]["evidence"])
    review_page = browser.get(f"/review/{world['candidate_id']}")
    assert review_page.status_code == 200
    assert ID_NUMBER not in review_page.get_data(as_text=True)
    assert mask_id_number(ID_NUMBER) in review_page.get_data(as_text=True)


def test_a_reveal_shows_free_text_id_numbers_and_is_audited_as_revealed(app, api, db, world):
    """The same reveal as for the ID number (`?reveal=id` on the page, `?reveal=id_number` in the API) shows an ID
    number typed into free text — also on a case with no structured ID number — and is audited as revealed."""
    free = world["free_id"]
    step = api["staff"].post(f"/api/v1/cases/{free}/channels/dna/events", json={
        "status": "in_progress", "note": f"比对 {FREE_TEXT_ID}", "fields": {"kind": "requested", "police_office": "河西分局"}})
    assert step.status_code == 201, step.get_json()
    browser = app.test_client()
    login(browser, "staff1")
    page = browser.get(f"/cases/{free}?reveal=id").get_data(as_text=True)
    for text in (f"左臂有字 {FREE_TEXT_ID}", f"自述身份证 {FREE_TEXT_ID}", f"火车站 {FREE_TEXT_ID}", f"比对 {FREE_TEXT_ID}"):
        assert text in page
    assert 'data-testid="reveal-free-text"' not in page
    row = _last_case_view(db)
    assert (row.object_type, row.object_id, row.detail) == ("case", free, {"id_number": "revealed"})

    body = api["staff"].get(f"/api/v1/cases/{free}?reveal=id_number").get_json()
    assert (body["marks"], body["description"], body["found_place"]) == (
        f"左臂有字 {FREE_TEXT_ID}", f"自述身份证 {FREE_TEXT_ID}", f"火车站 {FREE_TEXT_ID}")
    assert body["id_number"] is None and f"比对 {FREE_TEXT_ID}" in str(body["channels"])
    row = _last_case_view(db)
    assert (row.object_id, row.detail) == (free, {"via": "api", "id_number": "revealed"})

    # A reveal of a case with nothing to reveal shows nothing more and says so.
    plain = world["left_id"]
    assert browser.get(f"/cases/{plain}?reveal=id").status_code == 200
    assert _last_case_view(db).detail == {"id_number": "masked"}
