"""Pages of going home safely: family verification, follow-up calls, re-arrival alerts; and running the clues now."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..domain import followups as followup_rules
from ..domain import handover as handover_rules
from ..domain.errors import DomainError
from ..extensions import db
from ..services import clues, followups, handover
from ..services.cases import get_case
from .access import client_ip, role_required

bp = Blueprint("clues", __name__)


def _back(case_id: int, anchor: str = "#handover"):
    return redirect(url_for("cases.show_case", case_id=case_id) + anchor)


def _attempt(action, done: str, prefix: str = "") -> bool:
    """Run a service call; a domain error is rolled back and shown, success flashed."""
    try:
        action()
    except DomainError as exc:
        db.session.rollback()
        flash(f"{prefix}{exc.message}", "error")
        return False
    flash(done, "success")
    return True


@bp.post("/cases/<int:case_id>/verifications")
@role_required("staff")
def verify(case_id: int):
    raw = {**request.form.to_dict(), "evidence": request.form.getlist("evidence")}
    _attempt(lambda: handover.record(current_user, case_id, raw, client_ip()), _("Family verification recorded."),
             f"{_('Not saved')}: ")
    return _back(case_id)


@bp.post("/cases/<int:case_id>/verifications/<int:verification_id>/approve")
@role_required("supervisor")
def approve(case_id: int, verification_id: int):
    _attempt(lambda: handover.approve(current_user, case_id, verification_id, client_ip()), _("Handover approved."))
    return _back(case_id)


@bp.post("/cases/<int:case_id>/verifications/<int:verification_id>/withdraw")
@role_required("staff")
def withdraw(case_id: int, verification_id: int):
    _attempt(lambda: handover.revoke(current_user, case_id, verification_id, request.form.get("note"), client_ip()),
             _("Verification withdrawn."))
    return _back(case_id)


@bp.post("/cases/<int:case_id>/clues/run")
@role_required("staff")
def run_clues(case_id: int):
    """Look for description candidates now (the same work the background task does)."""
    case = get_case(current_user, case_id)
    result = clues.propose_for_case(case.id)
    flash(_("Description matching done: %(n)d new candidates.", n=result.get("new", 0)), "success")
    return _back(case.id, "#candidates")


@bp.get("/queues/followups")
@role_required("staff")
def followup_queue():
    show_all = request.args.get("all") == "1"
    rows = followups.worklist(current_user, include_scheduled=show_all)
    return render_template("clues/followups.html", rows=rows, outcomes=followup_rules.OUTCOMES, show_all=show_all)


@bp.post("/followups/<int:follow_up_id>")
@role_required("staff")
def record_followup(follow_up_id: int):
    _attempt(lambda: followups.record_outcome(current_user, follow_up_id, request.form.get("outcome"),
                                              request.form.get("note"), client_ip()), _("Follow-up recorded."))
    return redirect(url_for("clues.followup_queue"))


@bp.get("/alerts/re-arrivals")
@role_required("supervisor")
def re_arrivals():
    return render_template("clues/re_arrivals.html", items=followups.open_re_arrivals(current_user))


@bp.post("/alerts/re-arrivals/<int:alert_id>")
@role_required("supervisor")
def acknowledge(alert_id: int):
    try:
        followups.acknowledge(current_user, alert_id, client_ip())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("clues.re_arrivals"))


def handover_context(case) -> dict:
    """What the case page and the exit form show about the family's verification and the follow-ups."""
    return {
        "verifications": handover.verifications(case.id),
        "handover_problem": handover.status(case),
        "evidence_kinds": handover_rules.EVIDENCE_KINDS,
        "follow_ups": followups.of_case(case.id),
    }
