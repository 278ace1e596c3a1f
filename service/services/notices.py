"""The family-search notice (寻亲公告) of a case: what the public may see, and when.

DOMAIN.md §Family search, §Minors, §Privacy. A notice carries a photo and non-sensitive details only:
fields are picked one by one from an allow-list below (never ID numbers, diagnoses, health or mental
state, belongings, referral details, exact positions or named relatives; the staff's free-text notes
are left out too, since they may hold any of these). A minor's notice needs a supervisor's approval
before it is published; a resolved case's notice is withdrawn and redacted; every view is audited.

The content is computed from the case at each view, so a correction or an identification shows at
once; the Notice row keeps only what people decided (approval) and the withdrawal.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..domain.channels import NoticeNeedsApproval
from ..domain.errors import Conflict, Forbidden, InvalidValue
from ..domain.fusion import provinces_in
from ..domain.identity import scrub_ids
from ..domain.intake import age_bounds, age_on
from ..domain.lifecycle import SEARCHING as SEARCHING_STATES  # settled and transferred people's notices stay up
from ..extensions import db
from ..formats import notice_render as render
from ..formats.notice_render import NoticePage, cn_date, contact_lines, dialect_phrase, fit, notice_lines
from ..models import Case, CaseEvent, Notice, Photo, User
from ..models.types import utcnow
from . import audit
from ..domain.deadlines import CHINA_TZ
from .intake import photo_file

log = logging.getLogger(__name__)

TITLE = "寻亲公告"
FORMATS = ("json", "html", "png", "pdf")
PUSH_MAX_CHARS = 120  # the Toutiao push (头条寻人) is short
SEX_LABELS = {"male": "男", "female": "女"}
WITHDRAWN_FOUND = "已寻到亲属，本公告撤回。"
WITHDRAWN_CLOSED = "已结案，本公告撤回。"
HTML_PHOTO_SIDE = 600  # the photo embedded in the HTML notice: enough to recognise, small to send


# ---------------------------------------------------------------- state: resolved, approved

def is_resolved(case: Case) -> bool:
    """Identity confirmed, or the person has left and the search has ended: the notice comes down."""
    return case.identity_status == "confirmed" or case.state not in SEARCHING_STATES


def notice_of(case: Case) -> Notice | None:
    return db.session.scalar(select(Notice).where(Notice.case_id == case.id))


def is_approved(case: Case, notice: Notice | None = None) -> bool:
    notice = notice if notice is not None else notice_of(case)
    if notice is not None and notice.approved_at is not None:
        return True
    # A supervisor may also have recorded the approval as a case step (services.search.record_case_step).
    return any(e.kind == "notice_approved" for e in case.events)


def needs_approval(case: Case, notice: Notice | None = None) -> bool:
    """A minor's notice is not public until a supervisor approves it (DOMAIN.md §Minors)."""
    return case.is_minor and not is_resolved(case) and not is_approved(case, notice)


def check_publishable(case: Case, notice: Notice | None = None) -> None:
    if needs_approval(case, notice):
        raise NoticeNeedsApproval(
            f"the notice of case {case.case_no} shows a minor: a supervisor must approve it before it is "
            "rendered for publishing",
            "notice",
        )


def notice_state(case: Case, notice: Notice | None = None) -> str:
    if is_resolved(case):
        return "withdrawn"
    notice = notice if notice is not None else notice_of(case)
    if notice is not None and notice.state == "published":
        return "published"
    return "approved" if is_approved(case, notice) else "draft"


def _notice_row(case: Case) -> Notice:
    row = notice_of(case)
    if row is None:
        try:
            with db.session.begin_nested():  # a concurrent first view may create it too
                row = Notice(case_id=case.id, state="draft")
                db.session.add(row)
        except IntegrityError:
            row = notice_of(case)
    return row


def _withdrawal_reason(case: Case) -> str:
    return "identity_confirmed" if case.identity_status == "confirmed" else f"case_{case.state}"


def withdraw_if_resolved(case: Case, actor: User | None = None) -> Notice | None:
    """Mark the notice withdrawn once the case is resolved (idempotent).

    Adds to the current transaction: the caller commits (the exit or the identity confirmation).
    """
    if not is_resolved(case):
        return notice_of(case)
    row = _notice_row(case)
    if row.state != "withdrawn":
        row.state = "withdrawn"
        row.withdrawn_at = utcnow()
        row.withdrawn_reason = _withdrawal_reason(case)
        audit.record(actor.id if actor else None, "notice.withdraw", "case", case.id, {"reason": row.withdrawn_reason})
        log.info("event=notice_withdrawn case_id=%s reason=%s", case.id, row.withdrawn_reason)
    return row


def _sync(case: Case) -> Notice | None:
    """Bring the row in line with the case: withdrawn when resolved, back up if a link was undone."""
    row = withdraw_if_resolved(case)
    if row is not None and row.state == "withdrawn" and not is_resolved(case):
        row.state = "approved" if row.approved_at is not None else "draft"
        row.withdrawn_at = None
        row.withdrawn_reason = None
    return row


def approve(actor: User, case: Case, ip: str | None = None) -> Notice:
    """A supervisor approves the public notice (required for minors, harmless for adults); idempotent."""
    if not actor.has_role("supervisor"):
        raise Forbidden("approving a public notice needs a supervisor")
    if is_resolved(case):
        raise Conflict(f"case {case.case_no} is resolved: its notice is withdrawn and cannot be approved", "state")
    row = _sync(case) or _notice_row(case)
    if row.approved_at is None:
        row.state = "approved"
        row.approved_by_id = actor.id
        row.approved_at = utcnow()
        # The deadline rules and the channel steps read approval from the timeline.
        case.events.append(CaseEvent(kind="notice_approved", user_id=actor.id, data={"via": "notice"}))
        audit.record(actor.id, "notice.approve", "case", case.id, {"minor": bool(case.is_minor)}, ip)
    db.session.commit()
    return row


# ---------------------------------------------------------------- content

def _today() -> date:
    return utcnow().astimezone(CHINA_TZ).date()


def _local_date(value) -> date | None:
    return value.astimezone(CHINA_TZ).date() if value else None


def _age(case: Case, on: date) -> tuple[int | None, int | None, str | None]:
    """The age today: from the birth date if known (the date itself is never shown), else the estimate."""
    lo, hi = age_bounds(case.birth_date, case.age_min, case.age_max, on)
    if lo is None and hi is None:
        return None, None, None
    lo, hi = (lo if lo is not None else hi), (hi if hi is not None else lo)
    if case.birth_date is None:
        arrived = _local_date(case.arrived_at)
        if arrived and on > arrived:  # an estimate made at arrival ages with the stay
            grown = age_on(arrived, on)
            lo, hi = lo + grown, hi + grown
        text = f"约{lo}岁" if lo == hi else f"约{lo}–{hi}岁"
    else:
        text = f"{lo}岁"
    return lo, hi, text


def _who(case: Case) -> str:
    if case.is_minor:
        return {"male": "男孩", "female": "女孩"}.get(case.gender, "未成年人")
    return {"male": "男子", "female": "女子"}.get(case.gender, "人员")


def notice_photo(case: Case) -> Photo | None:
    """The first processed photo (a usable face, normalised and stripped of metadata)."""
    return next((p for p in case.photos if p.status == "processed" and p.normalized_sha256), None)


def _station(case: Case) -> dict:
    station = case.station
    return {
        "name": station.name,
        "city": station.city,
        # Station.phone is added by migration 0003; read defensively until every model has it.
        "phone": getattr(station, "phone", None),
    }


def _public_description(case: Case, f: dict) -> str:
    """A sentence for the public, written only from the allowed fields (never the staff's notes)."""
    parts = []
    when_where = ""
    if f["found_date"]:
        when_where += cn_date(date.fromisoformat(f["found_date"]))
    if f["found_place"]:
        when_where += f"在{f['found_place']}"
    first = f"{when_where}发现一名{_who(case)}" if when_where else f"现有一名{_who(case)}"
    if f["name"]:
        first += f"，{f['name']}"
    parts.append(first)
    if f["age"]:
        parts.append(f["age"])
    if f["height_cm"]:
        parts.append(f"身高约{f['height_cm']}厘米")
    if f["dialect"]:
        parts.append(dialect_phrase(f["dialect"]))
    sentence = "，".join(parts) + "。"
    sentence += f"现在{f['station']['name']}接受救助，望其亲属或知情者与我站联系。"
    return sentence


def notice_fields(case: Case, on: date | None = None) -> dict:
    """What the national portal (全国救助寻亲网) needs; picked field by field from an allow-list."""
    station = _station(case)
    if is_resolved(case):
        # Withdrawn: nothing of the person any more, only which notice it was and who to ask.
        return {
            "notice_no": case.case_no,
            "title": TITLE,
            "withdrawn": True,
            "statement": WITHDRAWN_FOUND if case.identity_status == "confirmed" else WITHDRAWN_CLOSED,
            "station": station,
        }
    on = on or _today()
    age_min, age_max, age_text = _age(case, on)
    found = _local_date(case.found_at)
    photo = notice_photo(case)
    fields = {
        "notice_no": case.case_no,
        "title": TITLE,
        "withdrawn": False,
        # Identity is never confirmed here (a confirmed case is withdrawn): a name is what they say.
        "name": f"自称{case.name}" if case.name else None,
        "sex": case.gender if case.gender in SEX_LABELS else "unknown",
        "sex_label": SEX_LABELS.get(case.gender, "不详"),
        "age_min": age_min,
        "age_max": age_max,
        "age": age_text,
        "height_cm": case.height_cm,
        "build": case.build,
        "marks": case.marks,
        "clothing": case.clothing,
        "dialect": case.dialect,
        "hometown_hint": case.hometown_hint,
        "found_place": case.found_place,
        "found_date": found.isoformat() if found else None,
        "arrived_date": _local_date(case.arrived_at).isoformat() if case.arrived_at else None,
        "station": station,
        "photo_id": photo.id if photo else None,
    }
    # A clerk may have typed an ID number into any of these texts: the public never sees one.
    for key in ("name", "build", "marks", "clothing", "dialect", "hometown_hint", "found_place"):
        if fields[key]:
            fields[key] = scrub_ids(fields[key])
    fields["description"] = _public_description(case, fields)
    return fields


# ---------------------------------------------------------------- the Toutiao push

def push_text(case: Case, on: date | None = None) -> dict:
    """A short text for the Toutiao push (≤ 120 characters) and the areas to target."""
    fields = notice_fields(case, on)
    if fields["withdrawn"]:
        return {"notice_no": case.case_no, "withdrawn": True, "text": None, "length": 0, "areas": []}
    check_publishable(case)
    on = on or _today()
    st = fields["station"]
    contact = f"知情者请联系{st['name']}" + (f"，电话{st['phone']}" if st["phone"] else "") + "。"
    when = ""
    if fields["found_date"]:
        d = date.fromisoformat(fields["found_date"])
        when = f"{d.month}月{d.day}日" if d.year == on.year else cn_date(d)
    place = fit(fields["found_place"] or "", 30)
    if when or place:
        head = f"【寻亲】{when}{'在' + place if place else ''}发现一名{_who(case)}"
    else:
        head = f"【寻亲】{st['name']}现救助一名{_who(case)}"
    # In order of use to a reader who might know the person; each goes in only if it still fits.
    extras = [
        fields["name"],
        fields["age"],
        f"身高约{fields['height_cm']}厘米" if fields["height_cm"] else None,
        dialect_phrase(fields["dialect"]) if fields["dialect"] else None,
        fit(f"自述{fields['hometown_hint']}", 24) if fields["hometown_hint"] else None,
        fit(fields["marks"], 24) if fields["marks"] else None,
        fit(f"衣着{fields['clothing']}", 24) if fields["clothing"] else None,
        f"编号{case.case_no}" if case.case_no else None,
    ]
    chosen: list[str] = []
    for extra in extras:
        if extra and len("，".join([head, *chosen, extra]) + "。" + contact) <= PUSH_MAX_CHARS:
            chosen.append(extra)
    text = fit("，".join([head, *chosen]) + "。" + contact, PUSH_MAX_CHARS)
    return {"notice_no": case.case_no, "withdrawn": False, "text": text, "length": len(text),
            "areas": push_areas(case)}


def push_areas(case: Case) -> list[dict]:
    """Where to target the push: near where the person was found and near the suspected home.

    Home areas are named at province level only (from the home hint, the household place and the
    dialect): a household address is not for the push.
    """
    areas = []
    if case.found_place or case.station.city:
        areas.append({"kind": "found", "place": case.found_place, "city": case.station.city})
    sources = {"hometown_hint": case.hometown_hint, "household_place": case.household_place, "dialect": case.dialect}
    provinces: dict[str, list[str]] = {}
    for name, text in sources.items():
        for province in sorted(provinces_in(text)):
            provinces.setdefault(province, []).append(name)
    for province, why in sorted(provinces.items()):
        areas.append({"kind": "home", "province": province, "from": why})
    if not provinces and case.hometown_hint:
        areas.append({"kind": "home", "place": case.hometown_hint, "from": ["hometown_hint"]})
    return areas


# ---------------------------------------------------------------- the picture (drawn by formats/notice_render.py)

def _photo_bytes(case: Case, settings, photo_id: int | None) -> bytes | None:
    if photo_id is None:
        return None
    photo = next((p for p in case.photos if p.id == photo_id), None)
    path = photo_file(settings.media_dir, photo) if photo else None
    if path is None or not path.exists():
        log.warning("event=notice_photo_missing case_id=%s photo_id=%s", case.id, photo_id)
        return None
    return path.read_bytes()


def notice_page(case: Case, settings, fields: dict | None = None) -> NoticePage:
    fields = fields or notice_fields(case)
    footer = f"全国救助寻亲网 · {fields['station']['name']} · {fields['notice_no']}"
    if not render.find_fonts().cjk:
        footer = f"[no CJK font found: install fonts-noto-cjk] {fields['notice_no']}"
    if fields["withdrawn"]:
        return NoticePage(TITLE, fields["notice_no"] or "", tuple(notice_lines(fields)), None,
                          tuple(contact_lines(fields)), True, fields["statement"], None, footer)
    return NoticePage(
        title=TITLE,
        notice_no=fields["notice_no"] or "",
        lines=tuple(notice_lines(fields)),
        description=fields["description"],
        contact=tuple(contact_lines(fields)),
        withdrawn=False,
        statement=None,
        photo=_photo_bytes(case, settings, fields["photo_id"]),
        footer=footer,
    )


def render_png(case: Case, settings) -> bytes:
    check_publishable(case)
    return render.png(render.draw_page(notice_page(case, settings)))


def render_pdf(case: Case, settings) -> bytes:
    check_publishable(case)
    page = notice_page(case, settings)
    return render.pdf(render.draw_page(page), page)


def photo_for_html(case: Case, settings, fields: dict) -> bytes | None:
    """A smaller copy of the notice photo for the self-contained HTML notice."""
    data = _photo_bytes(case, settings, fields.get("photo_id"))
    return None if data is None else render.shrink_jpeg(data, HTML_PHOTO_SIDE)


# ---------------------------------------------------------------- one audited view

@dataclass
class Served:
    fmt: str
    fields: dict
    state: str
    content: bytes | None = None  # png / pdf
    mimetype: str = "application/json"
    filename: str | None = None


MIMETYPES = {"json": "application/json", "html": "text/html", "png": "image/png", "pdf": "application/pdf"}


def serve_notice(actor: User, case: Case, fmt: str, settings, ip: str | None = None, preview: bool = False) -> Served:
    """Check, render and audit one view of the notice (it shows a face).

    `preview` is the staff's page before approval: it may show a minor's draft (marked as such)
    but never produces the publishable formats.
    """
    if fmt not in FORMATS and not (preview and fmt == "page"):
        raise InvalidValue(f"format must be one of: {', '.join(FORMATS)}", "format")
    row = _sync(case)
    fields = notice_fields(case)
    if not preview:
        check_publishable(case, row)
    served = Served(fmt, fields, notice_state(case, row), mimetype=MIMETYPES.get(fmt, "text/html"))
    if fmt in ("png", "pdf"):
        page = notice_page(case, settings, fields)
        img = render.draw_page(page)
        served.content = render.png(img) if fmt == "png" else render.pdf(img, page)
        served.filename = f"notice-{case.case_no or case.id}.{fmt}"
    audit.record_now(
        actor.id, "notice.view", "case", case.id,
        {"format": fmt, "photo_id": fields.get("photo_id"), "withdrawn": fields["withdrawn"]}, ip,
    )
    return served


def serve_push(actor: User, case: Case, ip: str | None = None) -> dict:
    """The push text, audited like any other view of the notice."""
    _sync(case)
    body = push_text(case)
    audit.record_now(actor.id, "notice.view", "case", case.id, {"format": "push", "withdrawn": body["withdrawn"]}, ip)
    return body
