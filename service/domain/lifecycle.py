"""Case lifecycle: states, the transition table, exits and who may leave how."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .errors import Conflict, Forbidden, InvalidValue
from .handover import Verification, check_handover
from .identity import InvalidIdNumber, parse_id_number
from .roles import role_at_least

OPEN_STATES = ("in_station", "in_hospital")  # sick or mentally ill people may start in hospital
FINAL_STATES = ("returned", "transferred", "settled", "left", "in_medical_care", "deceased")
STATES = OPEN_STATES + FINAL_STATES
# Settled and transferred people keep an open search (DOMAIN.md §Leaving): they can still go home.
SEARCH_OPEN_STATES = ("settled", "transferred")
SEARCHING = OPEN_STATES + SEARCH_OPEN_STATES  # every case whose family search is still open
IDENTITY_STATUSES = ("unknown", "self_reported", "confirmed")

TRANSITIONS: dict[str, frozenset[str]] = {
    "in_station": frozenset({"in_hospital", *FINAL_STATES}),
    "in_hospital": frozenset({"in_station", *FINAL_STATES}),
    "settled": frozenset({"returned", "deceased"}),
    "transferred": frozenset({"returned", "deceased"}),
    "returned": frozenset(),
    "left": frozenset(),  # a person who comes back is a new stay, i.e. a new case
    "in_medical_care": frozenset(),
    "deceased": frozenset(),
}

IMPAIRED = frozenset({"mental_illness", "intellectual_disability"})
SELF_EXIT_AGE = 16


class IllegalTransition(Conflict):
    code = "illegal_transition"


class ExitNotAllowed(Conflict):
    code = "exit_not_allowed"


class InvalidExitDetails(InvalidValue):
    code = "invalid_exit_details"


@dataclass(frozen=True)
class ExitRule:
    """How one exit type works: its final state, the handover it records and who may use it."""

    state: str
    required: tuple[str, ...] = ()
    role: str = "staff"
    under_16: bool = True  # allowed for someone who is (or may be) under 16
    dependent: bool = True  # allowed for someone who cannot travel alone
    needs_eligibility: bool = False  # settlement: only after the review conditions hold
    # Handing a child or a dependent person to "family" needs the family link confirmed first.
    confirmed_for_dependents: bool = False
    returned_home: bool = False  # counts as "returned" for the KPI
    search_stays_open: bool = False


EXIT_RULES: dict[str, ExitRule] = {
    "family_pickup": ExitRule(
        "returned", ("collector_name", "collector_id_number", "relation"),
        confirmed_for_dependents=True, returned_home=True,
    ),
    "escorted_home": ExitRule(
        "returned", ("destination", "receiving_office", "handover_person"),
        confirmed_for_dependents=True, returned_home=True,
    ),
    "self_return": ExitRule("returned", ("destination",), under_16=False, dependent=False, returned_home=True),
    "transfer": ExitRule("transferred", ("destination",), search_stays_open=True),
    # Under-16s are placed through a transfer to a minors' centre or child welfare home, not settled.
    "settlement": ExitRule(
        "settled", role="supervisor", under_16=False, needs_eligibility=True, search_stays_open=True
    ),
    # Absconding is a fact to record (and report), not a permission: refusing it would leave a
    # missing child shown as present.
    "left_voluntarily": ExitRule("left"),
    "medical": ExitRule("in_medical_care"),
    "deceased": ExitRule("deceased"),
}
EXIT_TYPES = tuple(EXIT_RULES)
# What an exit may record of the handover (each rule's `required` names some of these).
EXIT_DETAILS = ("collector_name", "collector_id_number", "relation", "destination", "receiving_office",
                "handover_person", "note", "collector_phone")
RETURNED_HOME_EXITS = frozenset(t for t, r in EXIT_RULES.items() if r.returned_home)


@dataclass(frozen=True)
class ExitFacts:
    """What the exit rules need to know about the case and the person asking."""

    state: str
    actor_role: str
    arrived_at: datetime
    now: datetime
    age_min: int | None = None  # estimated range, or min == max when the birth date is known
    age_max: int | None = None
    categories: frozenset[str] = field(default_factory=frozenset)
    identity_status: str = "unknown"
    can_travel_alone: bool | None = None  # staff's judgement; None = not assessed
    settlement_eligible: bool = False
    verification: Verification | None = None  # the family's verification (domain.handover)


def transition(state: str, to: str) -> str:
    """The new state, or IllegalTransition saying why the change is refused."""
    for name, value in (("state", state), ("to", to)):
        if value not in STATES:
            raise InvalidValue(f"unknown case state: {value}", name)
    if to not in TRANSITIONS[state]:
        allowed = ", ".join(sorted(TRANSITIONS[state])) or "none: it is a final state"
        raise IllegalTransition(f"a case cannot go from {state} to {to} (allowed: {allowed})", "state")
    return to


def may_be_under_16(facts: ExitFacts) -> bool:
    """Protective reading: the youngest plausible age counts; an unknown age of a minor counts as under 16."""
    if facts.age_min is not None:
        return facts.age_min < SELF_EXIT_AGE
    if facts.age_max is not None:
        return facts.age_max < SELF_EXIT_AGE
    return "minor" in facts.categories


def may_be_minor(facts: ExitFacts) -> bool:
    """Protective reading, as for under-16s: the youngest plausible age counts."""
    if facts.age_min is not None:
        return facts.age_min < 18
    if facts.age_max is not None:
        return facts.age_max < 18
    return "minor" in facts.categories


def travels_alone(facts: ExitFacts) -> bool:
    return facts.can_travel_alone is not False and not (facts.categories & IMPAIRED)


def check_exit(facts: ExitFacts, exit_type: str, details: dict) -> None:
    """Refuse an exit the rules forbid (ExitNotAllowed, Forbidden) or one missing its handover record."""
    rule = EXIT_RULES.get(exit_type)
    if rule is None:
        raise InvalidValue(f"unknown exit type: {exit_type}", "type")
    if facts.state not in STATES or rule.state not in TRANSITIONS[facts.state]:
        raise ExitNotAllowed(f"a case in state {facts.state} cannot leave by {exit_type}", "type")
    if facts.now < facts.arrived_at:
        raise InvalidValue("an exit cannot be before the arrival", "now")
    if not role_at_least(facts.actor_role, rule.role):
        raise Forbidden(f"{exit_type} needs a {rule.role}")
    if not rule.under_16 and may_be_under_16(facts):
        raise ExitNotAllowed(
            f"{exit_type} is not allowed for a person who may be under {SELF_EXIT_AGE}: "
            "family pickup with a verified collector, escorted return or transfer only",
            "type",
        )
    if not rule.dependent and not travels_alone(facts):
        raise ExitNotAllowed(
            f"{exit_type} is not allowed for a person who cannot travel alone "
            "(mental or intellectual impairment): family pickup or escorted return only",
            "type",
        )
    if (
        rule.confirmed_for_dependents
        and facts.identity_status != "confirmed"
        and (may_be_under_16(facts) or not travels_alone(facts))
    ):
        raise ExitNotAllowed(
            f"{exit_type} of a person who may be under {SELF_EXIT_AGE} or cannot travel alone needs a "
            "confirmed identity: verify the family first",
            "type",
        )
    if rule.needs_eligibility and not facts.settlement_eligible:
        raise ExitNotAllowed(
            f"{exit_type} needs the case to be eligible: unidentified for the review period "
            "with every applicable search channel tried",
            "type",
        )
    for name in rule.required:
        if not str(details.get(name) or "").strip():
            raise InvalidExitDetails(f"{exit_type} must record {name}", name)
    if "collector_id_number" in rule.required:
        # A number that cannot exist is refused; checking the person against it is the staff's job.
        try:
            parse_id_number(str(details["collector_id_number"]))
        except InvalidIdNumber as exc:
            raise InvalidExitDetails(f"collector ID number: {exc}", "collector_id_number") from exc
    # Last, once the handover record is complete: who verified that this family is the family.
    check_handover(exit_type, facts.verification, may_be_minor(facts))


def apply_exit(facts: ExitFacts, exit_type: str, details: dict) -> str:
    """Check the exit and return the case's new state."""
    check_exit(facts, exit_type, details)
    return transition(facts.state, EXIT_RULES[exit_type].state)


def search_stays_open(exit_type: str) -> bool:
    return EXIT_RULES[exit_type].search_stays_open


def counts_as_returned(exit_type: str | None) -> bool:
    """Whether the exit is a return home for the KPI (returned ÷ identified)."""
    return exit_type in RETURNED_HOME_EXITS
