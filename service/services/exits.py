"""Leaving the station (离站): check the exit rules, record the handover, close the stay."""
from __future__ import annotations

from ..domain import lifecycle
from ..domain.errors import InvalidValue
from ..domain.identity import mask_id_number
from ..domain.intake import age_bounds
from ..extensions import db
from ..formats.fields import EXIT_FIELDS
from ..formats.values import parse_fields
from ..models import Case, CaseEvent, User
from ..models.types import utcnow
from . import audit, followups, handover
from .cases import get_case
from .family_search import settlement_eligible
from .notices import withdraw_if_resolved


def exit_facts(actor: User, case: Case, now) -> lifecycle.ExitFacts:
    lo, hi = age_bounds(case.birth_date, case.age_min, case.age_max, now.date())
    return lifecycle.ExitFacts(
        state=case.state, actor_role=actor.role, arrived_at=case.arrived_at, now=now, age_min=lo, age_max=hi,
        categories=frozenset(case.categories or ()), identity_status=case.identity_status,
        can_travel_alone=case.can_travel_alone,
        settlement_eligible=settlement_eligible(case, now) if case.state in lifecycle.OPEN_STATES else False,
        verification=handover.as_rule(handover.current(case.id)),
    )


def exit_case(actor: User, case_id: int, exit_type: str | None, raw: dict, ip: str | None = None) -> Case:
    """Apply an exit the rules allow (409 with the rule otherwise) and record who received the person."""
    values = parse_fields(EXIT_FIELDS, {**raw, "type": exit_type})
    exit_type = values.get("type")
    if exit_type is None:
        raise InvalidValue("type is required", "type")
    case = get_case(actor, case_id)
    now = utcnow()
    details = {k: values[k] for k in lifecycle.EXIT_DETAILS if values.get(k)}
    new_state = lifecycle.apply_exit(exit_facts(actor, case, now), exit_type, details)
    case.state, case.exit_type, case.closed_at = new_state, exit_type, now
    case.exit_details = details or None
    # The timeline and audit show the handover without the collector's full ID number.
    shown = {**details, **({"collector_id_number": mask_id_number(details["collector_id_number"])}
                           if "collector_id_number" in details else {})}
    case.events.append(CaseEvent(kind="exit", user_id=actor.id, data={"type": exit_type, "state": new_state, **shown}))
    audit.record(actor.id, "case.exit", "case", case.id, {"type": exit_type}, ip)
    if not lifecycle.search_stays_open(exit_type):
        withdraw_if_resolved(case)
    followups.schedule_after_exit(case)  # calls at 1 week, 1 month, 3 months after a return home
    db.session.commit()
    return case
