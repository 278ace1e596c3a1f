"""Pages for supervisors: work queues with CSV/XLSX exports, the outcome dashboard, data exchange."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from ..domain.errors import DomainError, Forbidden
from ..domain.intake import CATEGORIES
from ..extensions import db
from ..models import Station
from ..models.types import utcnow
from ..services import exports, stats, worklists
from ..services.reports import STATUSES as REPORT_STATUSES
from .access import client_ip, role_required

bp = Blueprint("supervisor", __name__)

QUEUE_TITLES = {
    "stranded": _l("Stranded"),
    "identified": _l("Identified, not yet home"),
    "minors": _l("Minors"),
}
QUEUE_HINTS = {
    "stranded": _l("People in the station's care whose identity is not confirmed, longest stay first. "
                   "Overdue steps are marked."),
    "identified": _l("Identity confirmed but not home yet: the gap in \"every identified person goes home\". "
                     "Includes settled and transferred people, whose search stays open."),
    "minors": _l("Minors in the station's care or with an open search: DNA at once, pickup only by verified "
                 "family, public notices only after approval."),
}
COLUMN_LABELS = {
    "case_no": _l("Case no."), "station": _l("Station"), "name": _l("Name"), "gender": _l("Sex"),
    "age": _l("Age"), "categories": _l("Categories"), "state": _l("State"), "identity_status": _l("Identity"),
    "arrived_on": _l("Arrived"), "days_stranded": _l("Days"), "overdue_steps": _l("Overdue"),
    "past_normal_limit": _l("Past the normal limit"), "identified_on": _l("Identified on"),
    "identified_by_channel": _l("Identified through"), "days_since_identified": _l("Days since identified"),
    "family_contacted": _l("Family contacted"), "return_arranged": _l("Return arranged"),
    "under_16": _l("Under 16"), "notice_approved": _l("Notice approved"), "dna": _l("dna"),
}
WORDS = {"yes": _l("Yes"), "no": _l("No")}


def _word(text: str) -> str:
    return str(WORDS[text]) if text in WORDS else _(text)


def _file(data: bytes, fmt: str, stem: str) -> Response:
    name = exports.file_name(stem, fmt, utcnow())
    return Response(data, content_type=exports.MIME[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def _stations() -> list[Station]:
    return db.session.scalars(select(Station).order_by(Station.code)).all() if current_user.role == "admin" else []


def _queue_page(name: str):
    error, rows, flt = None, [], worklists.QueueFilter()
    try:
        flt = worklists.parse_filter(current_user, request.args)
        rows = worklists.run(name, current_user, flt)
        fmt = (request.args.get("format") or "").strip().lower()
        if fmt:
            data = exports.queue_file(current_user, name, fmt, rows, COLUMN_LABELS, _word, client_ip())
            return _file(data, fmt, name)
    except Forbidden as exc:
        error, status = exc, 403
    except DomainError as exc:
        error, status = exc, 422
    else:
        status = 200
    return render_template(
        "supervisor/queue.html", name=name, title=QUEUE_TITLES[name], hint=QUEUE_HINTS[name], rows=rows,
        flt=flt, args=request.args, error=error, stations=_stations(), categories=CATEGORIES,
    ), status


@bp.get("/queues/stranded")
@role_required("supervisor")
def stranded_page():
    return _queue_page("stranded")


@bp.get("/queues/identified")
@role_required("supervisor")
def identified_page():
    return _queue_page("identified")


@bp.get("/queues/minors")
@role_required("supervisor")
def minors_page():
    return _queue_page("minors")


def _stats_scope():
    rng = stats.parse_range(request.args)
    station = worklists.parse_station(current_user, request.args)
    return rng, station


@bp.get("/dashboard")
@role_required("supervisor")
def dashboard():
    try:
        rng, station = _stats_scope()
    except DomainError as exc:
        rng, station = stats.parse_range({}), None
        error, status = exc, 403 if isinstance(exc, Forbidden) else 422
    else:
        error, status = None, 200
    summary = stats.summary(current_user, rng, station.id if station else None)
    return render_template("supervisor/dashboard.html", s=summary, rng=rng, station=station, error=error,
                           stations=_stations(),
                           data_args={"from": rng.start.isoformat(), "to": rng.end.isoformat(),
                                      **({"station": station.code} if station else {})}), status


@bp.get("/dashboard/stats.json")
@role_required("supervisor")
def dashboard_stats():
    """The dashboard's numbers for its charts (the session's twin of GET /api/v1/stats), with labels."""
    try:
        rng, station = _stats_scope()
    except Forbidden as exc:
        return jsonify({"error": {"code": exc.code, "message": exc.message}}), 403
    except DomainError as exc:
        return jsonify({"error": {"code": exc.code, "message": exc.message, "field": exc.field}}), 422
    body = stats.summary(current_user, rng, station.id if station else None)
    body["labels"] = {
        "channels": {c["channel"]: _(c["channel"]) if c["channel"] != stats.UNRECORDED else _("not recorded")
                     for c in body["channels"]},
        "bands": {"likely": _("band.likely"), "possible": _("band.possible")},
        "provinces": {stats.UNKNOWN_PROVINCE: _("unknown")},
        "series": {"arrivals": _("Arrivals"), "identified": _("Identified"), "returned": _("Returned home"),
                   # the weekly line counts every return home in the week, identified or not (self return)
                   "returns_all": _("All returns home in the week"),
                   "open_cases": _("Open cases"), "precision": _("Precision"), "reports": _("Reports"),
                   "open_reports": _("Open reports"), "cases": _("Cases")},
    }
    return jsonify(body)


@bp.get("/exchange")
@role_required("supervisor")
def exchange_page():
    return render_template("supervisor/exchange.html", report_statuses=REPORT_STATUSES)


@bp.get("/exchange/cases")
@role_required("supervisor")
def exchange_cases():
    fmt = (request.args.get("format") or "pfif").strip().lower()
    try:
        data, _count = exports.export_cases(current_user, fmt, None, client_ip())
    except DomainError as exc:
        return render_template("supervisor/exchange.html", report_statuses=REPORT_STATUSES, error=exc), 422
    return _file(data, fmt, "cases")


@bp.get("/exchange/reports")
@role_required("supervisor")
def exchange_reports():
    fmt = (request.args.get("format") or "pfif").strip().lower()
    status = (request.args.get("status") or "").strip() or None
    try:
        data, _count = exports.export_reports(current_user, fmt, status, client_ip())
    except DomainError as exc:
        return render_template("supervisor/exchange.html", report_statuses=REPORT_STATUSES, error=exc), 422
    return _file(data, fmt, f"reports-{status}" if status else "reports")
