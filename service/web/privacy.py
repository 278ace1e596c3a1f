"""Face-data protection pages (admins): enrolment count, privacy alerts, template keys, each station's
processing record and impact-assessment reference, exported as a Markdown document. The legal basis of a
person's face is shown on their case or report page (`biometric_basis` in templates)."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..domain.errors import DomainError
from ..extensions import db
from ..matching.enrolment import basis_on_record
from ..matching.templates import key_counts, keyring
from ..models import Station
from ..models.types import utcnow
from ..services import privacy
from .access import audit_view, client_ip, role_required

bp = Blueprint("privacy", __name__)

# Catalog entries: templates build these keys from the codes of domain/biometrics.py.
LABELS = [
    _l("basis.statutory_duty"), _l("basis.guardian_duty"), _l("basis.family_consent"), _l("basis.guardian_consent"),
    _l("basis_law.statutory_duty"), _l("basis_law.guardian_duty"), _l("basis_law.family_consent"),
    _l("basis_law.guardian_consent"),
    _l("purpose.identify_arrival"), _l("purpose.find_missing"), _l("purpose.street_check"),
    _l("alert.enrolment_threshold"), _l("alert.face_search_volume"),
]


@bp.app_context_processor
def inject():
    return {"biometric_basis": basis_on_record}


def _defaults(station: Station) -> dict:
    """A first draft of the record from what the software does; the admin corrects and saves it."""
    days = current_app.config["HUIJIA"].biometric_retention_days
    return {
        "controller": station.name,
        "purpose": _("Identify stranded people and bring them home; find reported missing people among arrivals; "
                     "tell staff whether a person seen on the street is known."),
        "legal_basis": _("Arrivals and street leads: the station's statutory duty (PIPL Art. 13(1)(3); State Council "
                         "Decree 381). Reports: the reporting family's separate consent (PIPL Arts 13(1)(1), 29), or the "
                         "police's duty. Minors: their guardian, or the station acting as temporary guardian (PIPL "
                         "Art. 31; Minors Protection Law Arts 92–94)."),
        "data_categories": _("Photos; face templates (encrypted, stored apart from identity data under a random "
                             "pseudonym); name, sex, age and other identity data of the case or report."),
        "retention": _("Face templates and face crops are erased %(days)s days after the person went home or the "
                       "street lead was closed; photos stay with the record.", days=days),
        "recipients": _("None. Matching runs on the station's own servers; no template leaves them."),
        "security_measures": _("Templates encrypted with AES-256-GCM, key kept apart and rotatable; templates in their "
                               "own table; login and roles for everything; every view of a face or ID number audited; "
                               "alerts on unusual face-search volume per account."),
    }


def _station(station_id: int) -> Station:
    station = db.session.get(Station, station_id)
    if station is None:
        abort(404)
    return station


@bp.get("/admin/privacy")
@role_required("admin")
def overview():
    settings = current_app.config["HUIJIA"]
    ring = keyring()
    return render_template(
        "privacy/overview.html", people=privacy.enrolled_people(), records=privacy.enrolled_records(),
        threshold=settings.enrolment_alert_threshold, alerts=privacy.open_privacy_alerts(),
        stations=privacy.station_records(), keys=sorted(key_counts().items()), current_key=ring.current_id,
        held_keys=ring.key_ids, face_search_alert=settings.face_search_alert,
    )


@bp.route("/admin/privacy/stations/<int:station_id>", methods=["GET", "POST"])
@role_required("admin")
def record_page(station_id: int):
    station = _station(station_id)
    record = privacy.record_of(station.id)
    error, values = None, None
    if request.method == "POST":
        values = {name: request.form.get(name, "") for name in privacy.RECORD_FIELDS}
        try:
            privacy.save_record(current_user, station, values, client_ip())
        except DomainError as exc:
            db.session.rollback()
            error = f"{_(exc.field) if exc.field else ''} {exc.message}".strip()
        else:
            flash(_("Processing record saved."), "success")
            return redirect(url_for("privacy.record_page", station_id=station.id))
    if values is None:
        values = ({name: getattr(record, name) or "" for name in privacy.RECORD_FIELDS} if record is not None
                  else {**{name: "" for name in privacy.RECORD_FIELDS}, **_defaults(station)})
    return render_template("privacy/record.html", station=station, record=record, values=values, error=error,
                           enrolled=privacy.enrolled_by_station().get(station.id, 0)), 422 if error else 200


@bp.get("/admin/privacy/stations/<int:station_id>/record.md")
@role_required("admin")
def record_export(station_id: int):
    """The record as a Markdown document, with today's numbers (for the impact assessment and the filing)."""
    station = _station(station_id)
    record = privacy.record_of(station.id)
    values = ({name: getattr(record, name) for name in privacy.RECORD_FIELDS} if record is not None
              else _defaults(station))
    settings = current_app.config["HUIJIA"]
    text = render_template(
        "privacy/record.md", station=station, record=record, values=values, now=utcnow(),
        enrolled=privacy.enrolled_by_station().get(station.id, 0), people=privacy.enrolled_people(),
        threshold=settings.enrolment_alert_threshold, retention_days=settings.biometric_retention_days,
        engine=settings.face_engine, key_id=keyring().current_id,
    )
    audit_view("processing_record.export", "station", station.id, {"format": "md"})
    return Response(text, mimetype="text/markdown", headers={
        "Content-Disposition": f'attachment; filename="processing-record-{station.code}.md"'})


@bp.post("/admin/privacy/alerts/<int:alert_id>/resolve")
@role_required("admin")
def resolve(alert_id: int):
    privacy.resolve_alert(current_user, alert_id, request.form.get("note"), client_ip())
    flash(_("Alert closed."), "success")
    return redirect(url_for("privacy.overview"))
