"""The notice page (web): preview, downloads, approval, push text; CSP-clean markup."""
from __future__ import annotations

import re

from service.matching import photos as pipeline
from service.services.intake import Upload, register_arrival
from tests.conftest import login


def _case(users, settings, fields, photo=None):
    case = register_arrival(users["staff"], fields, [Upload("f.jpg", photo)] if photo else [], settings).case
    for p in case.photos:
        pipeline.process_photo(p.id, settings, with_faces=False)
    return case


def _csp_clean(page: str) -> None:
    assert "<style" not in page and not re.search(r"\sstyle=", page)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # no inline scripts
    assert not re.search(r"\son\w+=", page)  # no inline handlers


def test_adult_notice_page(app, staff_client, users, settings, face_photo):
    case = _case(users, settings, {"name": "王五", "gender": "male", "age_min": "50", "age_max": "60",
                                   "found_place": "天津站", "health_notes": "SECRET-HEALTH"}, face_photo)
    page = staff_client.get(f"/cases/{case.id}/notice").get_data(as_text=True)
    _csp_clean(page)
    assert "寻亲公告" in page and "自称王五" in page and "SECRET-HEALTH" not in page
    assert "notice.css" in page and "notice.js" in page and 'data-testid="push-text"' in page
    assert f"/media/photos/{case.photos[0].sha256}.jpg" in page
    assert 'data-testid="notice-approve"' not in page
    for fmt, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF")):
        resp = staff_client.get(f"/cases/{case.id}/notice.{fmt}")
        assert resp.status_code == 200 and resp.data.startswith(magic)
        assert "attachment" in resp.headers["Content-Disposition"]
    assert staff_client.get(f"/cases/{case.id}/notice.docx").status_code == 404
    show = staff_client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert f"/cases/{case.id}/notice" in show


def test_minor_notice_page_and_approval(app, staff_client, users, settings):
    case = _case(users, settings, {"gender": "female", "age_min": "9", "age_max": "10", "found_place": "河西区"})
    page = staff_client.get(f"/cases/{case.id}/notice").get_data(as_text=True)
    _csp_clean(page)
    assert 'data-testid="notice-draft"' in page and 'data-testid="notice-needs-approval"' in page
    assert 'data-testid="notice-approve"' not in page and 'data-testid="push-text"' not in page
    resp = staff_client.get(f"/cases/{case.id}/notice.png")
    assert resp.status_code == 303
    assert staff_client.post(f"/cases/{case.id}/notice/approve").status_code == 403

    sup = app.test_client()
    login(sup, "super1")
    page = sup.get(f"/cases/{case.id}/notice").get_data(as_text=True)
    assert 'data-testid="notice-approve"' in page
    assert sup.post(f"/cases/{case.id}/notice/approve").status_code == 303
    page = sup.get(f"/cases/{case.id}/notice").get_data(as_text=True)
    assert 'data-testid="notice-draft"' not in page and 'data-testid="push-text"' in page
    assert sup.get(f"/cases/{case.id}/notice.png").status_code == 200


def test_other_station_gets_404(app, users, settings):
    case = _case(users, settings, {"age_min": "30"})
    other = app.test_client()
    login(other, "staff2")
    assert other.get(f"/cases/{case.id}/notice").status_code == 404
    assert other.get(f"/cases/{case.id}/notice.png").status_code == 404
