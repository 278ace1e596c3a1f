"""The family-search notice: field selection, redaction, the minors' approval rule, push text, pictures."""
from __future__ import annotations

import io
import json
from dataclasses import astuple
from datetime import date

import pytest
from PIL import Image
from sqlalchemy import select

from service.domain.errors import Conflict, Forbidden, InvalidValue
from service.formats import notice_render as render
from service.models import AuditEntry, CaseEvent, Notice
from service.services import notices
from service.matching import photos as pipeline
from service.services.intake import Upload, photo_file, register_arrival

VALID_ID = "11010519491231002X"  # GB 11643 sample: born 1949-12-31, female
PHONE = "022-2345-6789"

# Everything a public notice must never carry, each value easy to find in any output.
SENSITIVE = {
    "id_number": VALID_ID,
    "health_notes": "HN敏感：二型糖尿病，需胰岛素",
    "mental_state": "MS敏感：疑似精神分裂，情绪不稳",
    "belongings": "BL敏感：钱包一个，现金三百元",
    "referring_officer": "RO敏感：李建国警官",
    "referral_handover_no": "HO-2026-99881",
    "found_lat": "39.123456",
    "found_lng": "117.654321",
    "relatives_named": "RN敏感：妻子王翠花，儿子王小明",
    "vagrancy_history": "VH敏感：三年前离家后流浪",
    "description": "DS敏感：内部备注，曾在精神病院住院",
    "household_place": "HP敏感：河南省周口市郸城县某某村12号",
    "languages": "LG敏感：普通话",
    "accommodation_zone": "AZ敏感：女性二区",
}
SENSITIVE_CATEGORIES = ["mental_illness", "intellectual_disability", "suspected_trafficked"]
FORBIDDEN_TEXT = [
    *[v for k, v in SENSITIVE.items() if k not in ("found_lat", "found_lng")],
    "39.123", "117.654",  # no position, rounded or not
    "1949-12-31", "1949年12月31日", "19491231",  # the birth date behind the ID number
    *SENSITIVE_CATEGORIES, "精神疾病", "智力残疾", "被拐",
    "06:30", "06时30分",  # the found time: the date only
]
PUBLIC = {
    "name": "张秀兰",
    "found_place": "天津站南广场",
    "found_at": "2026-11-20T06:30:00+08:00",
    "height_cm": "158",
    "build": "偏瘦",
    "marks": "左眉上方有一颗黑痣",
    "clothing": "灰色棉袄，黑色裤子",
    "dialect": "河南话",
    "hometown_hint": "山东菏泽一带",
    "referral": "police",
}


def _photo(faces_dir, ident="Alex_Lacamoire", n=1) -> Upload:
    return Upload("face.jpg", (faces_dir / ident / f"{n}.jpg").read_bytes())


def _case(users, settings, fields=None, uploads=(), process=True):
    case = register_arrival(users["staff"], dict(fields or {}), list(uploads), settings).case
    if process:
        for p in case.photos:
            # Faces are not needed here: a processed photo with its normalised JPEG is.
            pipeline.process_photo(p.id, settings, with_faces=False)
    return case


@pytest.fixture()
def station_phone(db, stations):
    stations["main"].phone = PHONE
    db.session.commit()
    return PHONE


@pytest.fixture()
def full_case(db, users, settings, faces_dir, station_phone):
    fields = {**PUBLIC, **SENSITIVE, "categories": SENSITIVE_CATEGORIES}
    return _case(users, settings, fields, [_photo(faces_dir)])


def _page_text(page: render.NoticePage) -> str:
    return json.dumps([v for v in astuple(page) if not isinstance(v, bytes)], ensure_ascii=False)


def _assert_clean(text: str) -> None:
    leaked = [v for v in FORBIDDEN_TEXT if v in text]
    assert leaked == [], leaked


def test_fields_carry_the_public_details_and_nothing_sensitive(full_case, settings):
    fields = notices.notice_fields(full_case)
    assert fields["withdrawn"] is False
    assert fields["notice_no"] == full_case.case_no
    assert fields["name"] == "自称张秀兰"
    assert fields["sex_label"] == "女"  # from the ID number, which itself stays out
    assert fields["age"].endswith("岁") and fields["age_min"] >= 76
    assert fields["found_date"] == "2026-11-20" and fields["found_place"] == "天津站南广场"
    assert (fields["height_cm"], fields["build"], fields["dialect"]) == (158, "偏瘦", "河南话")
    assert fields["marks"] == PUBLIC["marks"] and fields["clothing"] == PUBLIC["clothing"]
    assert fields["station"] == {"name": "天津市河西区救助管理站", "city": "天津", "phone": PHONE}
    assert fields["photo_id"] == full_case.photos[0].id
    assert "天津站南广场" in fields["description"] and "自称张秀兰" in fields["description"]

    page = notices.notice_page(full_case, settings)
    push = notices.push_text(full_case)
    for text in (json.dumps(fields, ensure_ascii=False), json.dumps(notices.notice_lines(fields), ensure_ascii=False),
                 _page_text(page), json.dumps(push, ensure_ascii=False)):
        _assert_clean(text)
    assert "自称张秀兰" in _page_text(page) and f"电话：{PHONE}" in page.contact


def test_the_renderer_receives_only_the_page(full_case, settings):
    """The PNG is drawn from the NoticePage alone: what the page holds is all the picture can show."""
    page = notices.notice_page(full_case, settings)
    normalised = photo_file(settings.media_dir, full_case.photos[0]).read_bytes()
    assert page.photo == normalised  # the normalised JPEG (no EXIF, no GPS), not the upload
    assert notices.render_png(full_case, settings) == render.png(render.draw_page(page))


def test_png_and_pdf_are_an_a4_page(full_case, settings):
    png = notices.render_png(full_case, settings)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    with Image.open(io.BytesIO(png)) as img:
        assert img.size == render.PAGE_SIZE == (1240, 1754)
        # The photo is drawn in its box (not blank paper there).
        box = img.crop((100, 360, 540, 920)).convert("L")
        assert box.getextrema()[0] < 200
    pdf = notices.render_pdf(full_case, settings)
    assert pdf.startswith(b"%PDF-") and len(pdf) > 10_000
    assert render.find_fonts().cjk  # fonts-noto-cjk is installed here


def test_without_a_cjk_font_the_page_still_renders_and_says_so(full_case, settings, monkeypatch):
    monkeypatch.setattr(render, "find_fonts", lambda: render.Fonts(None, None))
    render.load_font.cache_clear()
    try:
        page = notices.notice_page(full_case, settings)
        assert "no CJK font" in page.footer
        assert notices.render_png(full_case, settings)[:4] == b"\x89PNG"
    finally:
        render.load_font.cache_clear()


def test_age_is_shown_never_the_birth_date(db, users, settings):
    estimated = _case(users, settings, {"gender": "male", "age_min": "40", "age_max": "50"})
    assert notices.notice_fields(estimated)["age"] == "约40–50岁"
    assert notices.notice_fields(estimated)["sex_label"] == "男"
    born = _case(users, settings, {"birth_date": "1980-05-01"})
    fields = notices.notice_fields(born, on=date(2026, 11, 23))
    assert fields["age"] == "46岁" and "1980" not in json.dumps(fields)
    unknown = _case(users, settings, {})
    fields = notices.notice_fields(unknown)
    assert fields["age"] is None and fields["name"] is None and fields["sex_label"] == "不详"
    assert fields["photo_id"] is None


@pytest.mark.parametrize(("change", "statement"), [
    ({"identity_status": "confirmed"}, notices.WITHDRAWN_FOUND),
    ({"state": "returned"}, notices.WITHDRAWN_CLOSED),
    ({"state": "deceased"}, notices.WITHDRAWN_CLOSED),
])
def test_resolved_case_is_redacted_and_withdrawn(db, full_case, settings, change, statement):
    for key, value in change.items():
        setattr(full_case, key, value)
    db.session.commit()
    fields = notices.notice_fields(full_case)
    assert fields == {
        "notice_no": full_case.case_no, "title": "寻亲公告", "withdrawn": True, "statement": statement,
        "station": {"name": "天津市河西区救助管理站", "city": "天津", "phone": PHONE},
    }
    page = notices.notice_page(full_case, settings)
    assert page.photo is None and page.description is None and "张秀兰" not in _page_text(page)
    assert notices.push_text(full_case)["text"] is None

    row = notices.withdraw_if_resolved(full_case)
    db.session.commit()
    assert row.state == "withdrawn" and row.withdrawn_at is not None
    first_at = row.withdrawn_at
    notices.withdraw_if_resolved(full_case)  # idempotent: no second withdrawal
    db.session.commit()
    assert db.session.scalars(select(Notice)).one().withdrawn_at == first_at
    assert len(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "notice.withdraw")).all()) == 1


def test_settled_person_keeps_the_notice(db, full_case):
    """Settlement and transfer keep the search open (DOMAIN.md §Leaving): the notice stays up."""
    full_case.state = "settled"
    db.session.commit()
    assert notices.notice_fields(full_case)["withdrawn"] is False
    assert notices.withdraw_if_resolved(full_case) is None


def test_open_case_is_not_withdrawn_and_an_undone_link_brings_the_notice_back(db, users, full_case, settings):
    assert notices.withdraw_if_resolved(full_case) is None
    full_case.identity_status = "confirmed"
    notices.withdraw_if_resolved(full_case)
    db.session.commit()
    full_case.identity_status = "self_reported"  # a supervisor undid a wrong identification
    db.session.commit()
    served = notices.serve_notice(users["staff"], full_case, "json", settings)
    assert served.fields["withdrawn"] is False and served.state == "draft"
    assert notices.notice_of(full_case).withdrawn_at is None


def test_minor_notice_needs_a_supervisor(db, users, settings, faces_dir):
    child = _case(users, settings, {"gender": "male", "age_min": "9", "age_max": "11", "found_place": "河西区友谊路"},
                  [_photo(faces_dir)])
    assert child.is_minor and notices.needs_approval(child)
    with pytest.raises(Conflict, match="supervisor"):
        notices.render_png(child, settings)
    with pytest.raises(Conflict):
        notices.render_pdf(child, settings)
    with pytest.raises(Conflict):
        notices.push_text(child)
    with pytest.raises(Conflict):
        notices.serve_notice(users["staff"], child, "json", settings)
    # The staff's preview still shows the draft, so that a supervisor can judge it.
    assert notices.serve_notice(users["staff"], child, "page", settings, preview=True).state == "draft"

    with pytest.raises(Forbidden):
        notices.approve(users["staff"], child)
    row = notices.approve(users["supervisor"], child)
    assert (row.state, row.approved_by_id) == ("approved", users["supervisor"].id) and row.approved_at
    notices.approve(users["supervisor"], child)  # idempotent
    # One timeline step: the deadline rules read the approval from there.
    assert len(db.session.scalars(select(CaseEvent).where(CaseEvent.kind == "notice_approved")).all()) == 1
    assert notices.render_png(child, settings)[:4] == b"\x89PNG"
    assert notices.push_text(child)["text"]


def test_approval_recorded_as_a_case_step_counts(db, users, settings):
    child = _case(users, settings, {"age_min": "12", "age_max": "14"})
    child.events.append(CaseEvent(kind="notice_approved", user_id=users["supervisor"].id))
    db.session.commit()
    assert not notices.needs_approval(child)
    assert notices.notice_state(child) == "approved"


def test_resolved_minor_is_shown_redacted_without_approval(db, users, settings):
    child = _case(users, settings, {"age_min": "9", "age_max": "10", "name": "小明"})
    child.identity_status = "confirmed"
    db.session.commit()
    assert notices.render_png(child, settings)[:4] == b"\x89PNG"
    with pytest.raises(Conflict):
        notices.approve(users["supervisor"], child)


def test_adult_notice_needs_no_approval(db, users, settings):
    adult = _case(users, settings, {"age_min": "30", "age_max": "40"})
    assert not notices.needs_approval(adult)
    assert notices.render_pdf(adult, settings).startswith(b"%PDF-")


def test_push_text_is_short_and_targets_found_and_home_areas(db, users, settings, station_phone):
    case = _case(users, settings, {**PUBLIC, "household_place": SENSITIVE["household_place"],
                                   "found_place": "天津市河西区友谊路与围堤道交口东南角公交站台附近" * 3})
    push = notices.push_text(case)
    assert push["withdrawn"] is False and push["text"].startswith("【寻亲】")
    assert len(push["text"]) == push["length"] <= 120
    assert PHONE in push["text"] and "天津市河西区救助管理站" in push["text"]
    home = {a["province"]: a["from"] for a in push["areas"] if a["kind"] == "home"}
    assert home == {"河南": ["household_place", "dialect"], "山东": ["hometown_hint"]}
    found = [a for a in push["areas"] if a["kind"] == "found"]
    assert found == [{"kind": "found", "place": case.found_place, "city": "天津"}]
    _assert_clean(json.dumps(push, ensure_ascii=False))

    short = notices.push_text(_case(users, settings, {"gender": "female", "age_min": "70", "age_max": "75",
                                                      "found_place": "天津站", "found_at": "2026-11-20T08:00:00+08:00"}))
    assert "天津站" in short["text"] and "约70–75岁" in short["text"] and len(short["text"]) <= 120


def test_every_view_is_audited(db, users, full_case, settings):
    for fmt in ("json", "png"):
        notices.serve_notice(users["staff"], full_case, fmt, settings, ip="10.0.0.5")
    notices.serve_push(users["staff"], full_case)
    query = select(AuditEntry).where(AuditEntry.action == "notice.view").order_by(AuditEntry.id)
    rows = db.session.scalars(query).all()
    assert [r.detail["format"] for r in rows] == ["json", "png", "push"]
    assert rows[0].object_id == full_case.id and rows[0].user_id == users["staff"].id and rows[0].ip == "10.0.0.5"
    assert rows[0].detail["photo_id"] == full_case.photos[0].id
    with pytest.raises(InvalidValue):
        notices.serve_notice(users["staff"], full_case, "docx", settings)
