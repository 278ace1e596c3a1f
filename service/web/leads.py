"""Street leads: the reporters' phone page, the dispatch desk, patrols, campaigns, reporter accounts."""
from __future__ import annotations

import uuid

from flask import Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..domain import leads as lead_rules
from ..domain.errors import Conflict, DomainError, InvalidValue
from ..domain.identity import mask_ids_in
from ..extensions import db, limiter
from ..formats.fields import CAMPAIGN_FIELDS, PATROL_FIELDS
from ..models import Case, Face, GalleryReport, Lead, User
from ..services import campaigns, leads, uploads
from ..services.users import create_reporter
from .access import audit_view, client_ip, role_required
from .forms import uploads_from

bp = Blueprint("leads", __name__)


def _lead_limit() -> str:
    return current_app.config["HUIJIA"].lead_rate_limit


def _per_user() -> str:
    # The same key as the API's (api/leads.py): one allowance per reporter, page and API together.
    return f"user:{current_user.id}" if current_user.is_authenticated else request.remote_addr or "-"


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def lead_or_404(lead_id: int):
    """The lead if this user may see it (reporter: their own; staff: their station's); NotFound is a 404 page."""
    return leads.get_lead(current_user, lead_id)


# --- the reporter's phone page --------------------------------------------------------------------

@bp.get("/report")
@role_required("reporter")
def report_form():
    return render_template("leads/report.html", flags=lead_rules.URGENCY_FLAGS, sources=lead_rules.SOURCES,
                           idempotency_key=uuid.uuid4().hex)


@bp.post("/report")
@role_required("reporter")
@limiter.shared_limit(_lead_limit, scope="lead-report", key_func=_per_user)
def report_submit():
    raw = {k: request.form.get(k) for k in leads.REPORT_FIELDS}
    raw["urgency"] = request.form.getlist("urgency")
    settings = current_app.config["HUIJIA"]
    photos = uploads_from(request)
    upload_key = request.form.get("upload_key")
    try:
        if upload_key and not photos:  # the photo came before, in chunks (a resumed upload)
            sent = uploads.take(current_user, upload_key, settings)
            photos = [sent] if sent else []
        result = leads.report_lead(current_user, raw, photos, settings,
                                   idempotency_key=request.form.get("idempotency_key"), ip=client_ip())
        if upload_key:
            uploads.discard(current_user, upload_key, settings)
    except DomainError as exc:
        db.session.rollback()
        status = getattr(exc, "status", 409 if isinstance(exc, Conflict) else 422)
        if _wants_json():
            return jsonify({"error": {"code": getattr(exc, "code", "invalid_value"), "message": exc.message,
                                      "field": exc.field}}), status
        flash(f"{_('Not sent')}: {exc.message}", "error")
        return redirect(url_for("leads.report_form"))
    url = url_for("leads.my_lead", lead_id=result.lead.id)
    if _wants_json():
        return jsonify({"id": result.lead.id, "created": result.created, "url": url}), 201 if result.created else 200
    flash(_("Sent. The station has your report."), "success")
    return redirect(url)


MAX_CHUNK = 1024 * 1024


@bp.get("/report/upload/<key>")
@role_required("reporter")
def upload_offset(key: str):
    """How much of this photo the station already has: the phone continues from there."""
    try:
        return jsonify({"offset": uploads.offset(current_user, key, current_app.config["HUIJIA"])})
    except DomainError as exc:
        return jsonify({"error": {"code": exc.code, "message": exc.message, "field": exc.field}}), 422


def _chunk_limit() -> str:
    return "600 per hour"  # 64 KB chunks: about 37 MB an hour per reporter, plenty for a few photos


@bp.put("/report/upload/<key>")
@role_required("reporter")
@limiter.limit(_chunk_limit, key_func=_per_user)
def upload_chunk(key: str):
    """One chunk of a photo at `?offset=`; a chunk that does not continue the part gets 409 and the offset."""
    start = request.args.get("offset", type=int)
    chunk = request.get_data(cache=False)
    try:
        if start is None or start < 0:
            raise InvalidValue("offset must be a whole number of bytes", "offset")
        if len(chunk) > MAX_CHUNK:
            raise InvalidValue(f"a chunk is at most {MAX_CHUNK} bytes", "chunk")
        return jsonify({"offset": uploads.append(current_user, key, start, chunk, current_app.config["HUIJIA"])})
    except uploads.OffsetMismatch as exc:
        return jsonify({"error": {"code": exc.code, "message": exc.message, "field": "offset"}, "offset": exc.offset}), 409
    except DomainError as exc:
        return jsonify({"error": {"code": exc.code, "message": exc.message, "field": exc.field}}), 422


@bp.get("/report/mine")
@role_required("reporter")
def my_leads():
    mine = leads.visible_leads(current_user).where(Lead.reporter_id == current_user.id)
    rows = [leads.reporter_view(lead) for lead in
            db.session.scalars(leads.with_photos(mine.order_by(Lead.reported_at.desc()).limit(50)))]
    return render_template("leads/mine.html", rows=rows)


@bp.get("/report/<int:lead_id>")
@role_required("reporter")
def my_lead(lead_id: int):
    lead = lead_or_404(lead_id)
    if lead.reporter_id != current_user.id:
        abort(404)  # staff open the dispatch page; this page is the reporter's own view
    return render_template("leads/mine_one.html", lead=leads.reporter_view(lead))


# --- the dispatch desk ----------------------------------------------------------------------------

def _marker(lead) -> dict:
    return {"id": lead.id, "lat": lead.lat, "lng": lead.lng, "status": lead.status, "urgency": lead.urgency or [],
            "place": mask_ids_in(lead.place or ""), "url": url_for("leads.dispatch_lead", lead_id=lead.id)}


@bp.get("/dispatch")
@role_required("staff")
def dispatch():
    settings = current_app.config["HUIJIA"]
    open_rows = leads.open_leads(current_user)
    markers = [_marker(lead) for lead in open_rows if lead.lat is not None]
    return render_template("leads/dispatch.html", rows=open_rows, closed=leads.recent_closed(current_user, 20),
                           markers=markers, tiles=settings.map_tile_url, attribution=settings.map_attribution,
                           patrols=campaigns.recent_patrols(current_user, 10), times=leads.response_times)


def _candidates(lead) -> list[dict]:
    """What staff see of the face check: the other side's crop beside the lead's, and where it leads."""
    out = []
    wanted = [c[k] for c in (lead.face_candidates or []) for k in ("lead_face_id", "other_face_id") if c.get(k)]
    faces = {f.id: f for f in db.session.scalars(select(Face).where(Face.id.in_(wanted)))} if wanted else {}
    for c in lead.face_candidates or []:
        mine, other = faces.get(c.get("lead_face_id")), faces.get(c.get("other_face_id"))
        target = db.session.get(GalleryReport, c["report_id"]) if c.get("report_id") else None
        case = db.session.get(Case, c["case_id"]) if c.get("case_id") else None
        if case is not None and current_user.role != "admin" and case.station_id != current_user.station_id:
            case_visible = False
        else:
            case_visible = case is not None
        out.append({**c, "lead_crop": mine.crop_sha256 if mine is not None and mine.template_id is not None else None,
                    "other_crop": other.crop_sha256 if other is not None and other.template_id is not None else None,
                    "report": target, "case": case, "case_visible": case_visible})
    return out


@bp.get("/dispatch/<int:lead_id>")
@role_required("staff")
def dispatch_lead(lead_id: int):
    lead = lead_or_404(lead_id)
    audit_view("lead.view", "lead", lead.id, {"photos": len(lead.photos)})
    return render_template("leads/dispatch_one.html", lead=lead, candidates=_candidates(lead),
                           outcomes=[o for o in lead_rules.OUTCOMES if o != "brought_in"],
                           times=leads.response_times(lead, lead.case_id and db.session.get(Case, lead.case_id).arrived_at))


def _act(lead_id: int, action, message: str):
    try:
        action()
    except DomainError as exc:
        db.session.rollback()
        flash(f"{_('Not saved')}: {exc.message}", "error")
    else:
        flash(message, "success")
    return redirect(url_for("leads.dispatch_lead", lead_id=lead_id))


@bp.post("/dispatch/<int:lead_id>/assign")
@role_required("staff")
def assign(lead_id: int):
    lead_or_404(lead_id)
    return _act(lead_id, lambda: leads.assign(current_user, lead_id, request.form.get("team"), client_ip()),
                _("Team dispatched."))


@bp.post("/dispatch/<int:lead_id>/on-site")
@role_required("staff")
def on_site(lead_id: int):
    lead_or_404(lead_id)
    return _act(lead_id, lambda: leads.mark_on_site(current_user, lead_id, client_ip()), _("Team on site."))


@bp.post("/dispatch/<int:lead_id>/close")
@role_required("staff")
def close(lead_id: int):
    lead_or_404(lead_id)
    return _act(lead_id, lambda: leads.close(current_user, lead_id, request.form.get("outcome"),
                                             request.form.get("note"), client_ip()), _("Lead closed."))


@bp.post("/patrols")
@role_required("staff")
def log_patrol():
    raw = {k: request.form.get(k) for k in PATROL_FIELDS}
    try:
        campaigns.log_patrol(current_user, raw, client_ip())
    except DomainError as exc:
        db.session.rollback()
        flash(f"{_('Not saved')}: {exc.message}", "error")
    else:
        flash(_("Patrol recorded."), "success")
    return redirect(url_for("leads.dispatch") + "#patrols")


# --- campaigns ------------------------------------------------------------------------------------

@bp.get("/campaigns")
@role_required("supervisor")
def campaign_list():
    return render_template("leads/campaigns.html", rows=campaigns.list_campaigns(current_user),
                           kinds=lead_rules.CAMPAIGN_KINDS)


@bp.post("/campaigns")
@role_required("supervisor")
def campaign_open():
    raw = {k: request.form.get(k) for k in CAMPAIGN_FIELDS}
    try:
        campaign = campaigns.open_campaign(current_user, raw, client_ip())
    except DomainError as exc:
        db.session.rollback()
        flash(f"{_('Not saved')}: {exc.message}", "error")
        return redirect(url_for("leads.campaign_list"))
    flash(_("Campaign opened: leads and patrols in its days are counted with it."), "success")
    return redirect(url_for("leads.campaign_show", campaign_id=campaign.id))


@bp.get("/campaigns/<int:campaign_id>")
@role_required("supervisor")
def campaign_show(campaign_id: int):
    campaign = campaigns.get_campaign(current_user, campaign_id)
    return render_template("leads/campaign.html", campaign=campaign, report=campaigns.campaign_report(current_user, campaign))


@bp.get("/campaigns/<int:campaign_id>.csv")
@role_required("supervisor")
def campaign_csv(campaign_id: int):
    campaign = campaigns.get_campaign(current_user, campaign_id)
    data, rows = campaigns.campaign_csv(current_user, campaign)
    audit_view("campaign.export", "campaign", campaign.id, {"rows": rows})
    return Response(data, mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=campaign-{campaign.id}.csv"})


# --- reporter accounts (created by a supervisor) --------------------------------------------------

@bp.get("/reporters")
@role_required("supervisor")
def reporters():
    query = db.session.query(User).filter(User.role == "reporter")
    if current_user.role != "admin":
        query = query.filter(User.station_id == current_user.station_id)
    return render_template("leads/reporters.html", rows=query.order_by(User.username).all(), sources=lead_rules.SOURCES)


@bp.post("/reporters")
@role_required("supervisor")
def reporter_create():
    try:
        create_reporter(current_user, request.form.get("username") or "", request.form.get("password") or "",
                        request.form.get("source"), request.form.get("phone"), client_ip())
    except DomainError as exc:
        db.session.rollback()
        flash(f"{_('Not saved')}: {exc.message}", "error")
    else:
        flash(_("Reporter account created."), "success")
    return redirect(url_for("leads.reporters"))

