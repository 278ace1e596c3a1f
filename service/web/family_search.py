"""Pages of the family search: channel steps, family contacts, case duties, exits, queues, rules."""
from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..domain import channels as channel_rules
from ..domain import deadlines, lifecycle
from ..domain.errors import DomainError, NotFound
from ..extensions import db
from ..models import Case, Station
from ..services import alerts, family_search
from ..services.cases import get_case
from ..services.exits import exit_case
from .access import client_ip, role_required

bp = Blueprint("family_search", __name__)


def _case(case_id: int) -> Case:
    try:
        return get_case(current_user, case_id)
    except NotFound:
        abort(404)


def _back(case_id: int, anchor: str = ""):
    return redirect(url_for("cases.show_case", case_id=case_id) + anchor)


@bp.post("/cases/<int:case_id>/channels/<channel>")
@role_required("staff")
def log_step(case_id: int, channel: str):
    case = _case(case_id)
    names = channel_rules.STEP_FIELDS.get(channel, [])
    fields = {"kind": request.form.get("kind")}
    for name in names:
        values = [v for v in request.form.getlist(name) if v.strip()]
        if values:
            fields[name] = values if len(values) > 1 else values[0]
    for name in ("clue_names", "clue_places"):
        if isinstance(fields.get(name), str):
            fields[name] = [v.strip() for v in fields[name].replace("，", ",").split(",") if v.strip()]
    try:
        family_search.log_step(current_user, case, channel, request.form.get("status") or None, fields,
                               request.form.get("note"), request.form.get("reference"), client_ip())
    except DomainError as exc:
        db.session.rollback()
        flash(f"{_('Not saved')}: {exc.field and _(exc.field) + ' — ' or ''}{exc.message}", "error")
    else:
        flash(_("Step recorded."), "success")
    return _back(case_id, "#channels")


@bp.post("/cases/<int:case_id>/contacts")
@role_required("staff")
def add_contact(case_id: int):
    case = _case(case_id)
    try:
        family_search.add_family_contact(current_user, case, request.form.to_dict(), client_ip())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("Family contact recorded."), "success")
    return _back(case_id, "#family")


@bp.post("/cases/<int:case_id>/duties/<kind>")
@role_required("staff")
def case_duty(case_id: int, kind: str):
    case = _case(case_id)
    try:
        family_search.record_case_step(current_user, case, kind, None, client_ip())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("Recorded."), "success")
    return _back(case_id)


@bp.route("/cases/<int:case_id>/exit", methods=["GET", "POST"])
@role_required("staff")
def exit_page(case_id: int):
    case = _case(case_id)
    error = None
    if request.method == "POST":
        try:
            exit_case(current_user, case.id, request.form.get("type", ""), request.form.to_dict(), client_ip())
        except DomainError as exc:
            db.session.rollback()
            error = exc
        else:
            flash(_("The person has left the station; the record is closed."), "success")
            return _back(case_id)
    from .clues import handover_context

    return render_template("family_search/exit.html", case=case, error=error, exit_rules=lifecycle.EXIT_RULES,
                           values=request.form, **handover_context(case)), 422 if error else 200


@bp.get("/queues/overdue")
@role_required("staff")
def overdue_page():
    return render_template("family_search/overdue.html", rows=family_search.overdue_queue(current_user))


@bp.get("/queues/approvals")
@role_required("supervisor")
def approvals_page():
    return render_template("family_search/approvals.html", queues=family_search.approvals_queue(current_user))


@bp.route("/admin/rules", methods=["GET", "POST"])
@role_required("admin")
def rules_page():
    stations = db.session.scalars(select(Station).order_by(Station.code)).all()
    station = next((s for s in stations if s.code == (request.values.get("station") or "")), stations[0] if stations else None)
    if station is None:
        abort(404)
    error = None
    if request.method == "POST":
        try:
            family_search.save_station_rules(current_user, station, request.form.get("overrides"),
                                             request.form.get("calendar"), client_ip())
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
        else:
            flash(_("Rules saved for this station."), "success")
            return redirect(url_for("family_search.rules_page", station=station.code))
    rules = [deadlines.describe(r) for r in family_search.station_rules(station)]
    return render_template("family_search/rules.html", stations=stations, station=station, rules=rules, error=error,
                           overrides=json.dumps(station.rules_overrides or {}, ensure_ascii=False, indent=2),
                           calendar=json.dumps(station.calendar or {"holidays": [], "workdays": []}, indent=2)), \
        422 if error else 200


@bp.get("/alerts")
@role_required("supervisor")
def alerts_page():
    items = alerts.open_alerts(current_user)
    cases = {c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_({a.case_id for a in items})))} if items else {}
    return render_template("family_search/alerts.html", items=items, cases=cases)
