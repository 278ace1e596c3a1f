"""Case lifecycle: the transition table, exits and who may leave how."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from service.domain.handover import Verification
from service.domain.errors import Conflict, DomainError, Forbidden, InvalidValue
from service.domain.lifecycle import (
    EXIT_RULES,
    FINAL_STATES,
    RETURNED_HOME_EXITS,
    STATES,
    TRANSITIONS,
    ExitFacts,
    ExitNotAllowed,
    IllegalTransition,
    InvalidExitDetails,
    apply_exit,
    check_exit,
    counts_as_returned,
    search_stays_open,
    transition,
)

CST = timezone(timedelta(hours=8))
ARRIVED = datetime(2026, 11, 2, 9, 0, tzinfo=CST)
NOW = ARRIVED + timedelta(days=3)
# The family was verified (domain.handover): these tests are about the other exit rules.
ADULT = ExitFacts(state="in_station", actor_role="staff", arrived_at=ARRIVED, now=NOW, age_min=35, age_max=45,
                  verification=Verification(frozenset({"id_check"}), checked_by_id=1))
CHILD = replace(ADULT, age_min=12, age_max=14, categories=frozenset({"minor"}),
                verification=Verification(frozenset({"dna_match", "id_check"}), checked_by_id=1, approved_by_id=2))
COLLECTOR = {"collector_name": "王建国", "collector_id_number": "11010519491231002X", "relation": "father"}
ESCORT = {"destination": "河南省周口市", "receiving_office": "周口市救助站", "handover_person": "李四"}


def test_table_covers_every_state_and_only_known_states():
    assert set(TRANSITIONS) == set(STATES)
    assert all(to in STATES for targets in TRANSITIONS.values() for to in targets)
    assert {rule.state for rule in EXIT_RULES.values()} == set(FINAL_STATES)


@pytest.mark.parametrize(
    "state, to",
    [
        ("in_station", "in_hospital"),
        ("in_hospital", "in_station"),
        ("in_station", "returned"),
        ("in_hospital", "deceased"),
        ("settled", "returned"),  # the search stays open: family found after settlement
        ("transferred", "returned"),
    ],
)
def test_legal_transitions(state, to):
    assert transition(state, to) == to


@pytest.mark.parametrize(
    "state, to, message",
    [
        ("returned", "in_station", "from returned to in_station (allowed: none: it is a final state)"),
        ("left", "returned", "from left to returned"),
        ("settled", "in_station", "allowed: deceased, returned"),
        ("in_station", "in_station", "from in_station to in_station"),
        ("deceased", "returned", "final state"),
    ],
)
def test_illegal_transitions_say_why(state, to, message):
    with pytest.raises(IllegalTransition, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        transition(state, to)
    assert isinstance(err.value, Conflict) and err.value.code == "illegal_transition"


def test_unknown_state_is_an_invalid_value():
    with pytest.raises(InvalidValue) as err:
        transition("in_station", "vanished")
    assert err.value.field == "to" and not isinstance(err.value, Conflict)


@pytest.mark.parametrize(
    "facts, exit_type, details, state",
    [
        (ADULT, "self_return", {"destination": "郑州"}, "returned"),
        (ADULT, "family_pickup", COLLECTOR, "returned"),
        (replace(CHILD, identity_status="confirmed"), "family_pickup", COLLECTOR, "returned"),
        (replace(CHILD, identity_status="confirmed"), "escorted_home", ESCORT, "returned"),
        (replace(ADULT, identity_status="self_reported"), "escorted_home", ESCORT, "returned"),
        (CHILD, "transfer", {"destination": "市未成年人救助保护中心"}, "transferred"),
        (CHILD, "left_voluntarily", {}, "left"),  # a fact to record, not a permission
        (replace(ADULT, categories=frozenset({"mental_illness"})), "medical", {}, "in_medical_care"),
        (replace(ADULT, state="in_hospital"), "deceased", {}, "deceased"),
        (replace(ADULT, actor_role="supervisor", settlement_eligible=True), "settlement", {}, "settled"),
        (replace(ADULT, actor_role="admin", settlement_eligible=True,
                 categories=frozenset({"intellectual_disability"})), "settlement", {}, "settled"),
        (replace(ADULT, state="settled"), "family_pickup", COLLECTOR, "returned"),
    ],
)
def test_allowed_exits(facts, exit_type, details, state):
    assert apply_exit(facts, exit_type, details) == state


@pytest.mark.parametrize(
    "facts, exit_type, details, error, message",
    [
        (replace(ADULT, age_min=14, age_max=17), "self_return", {"destination": "郑州"}, ExitNotAllowed,
         "self_return is not allowed for a person who may be under 16"),
        (replace(ADULT, age_min=None, age_max=None, categories=frozenset({"minor"})), "self_return",
         {"destination": "郑州"}, ExitNotAllowed, "may be under 16"),
        (replace(ADULT, categories=frozenset({"intellectual_disability"})), "self_return", {"destination": "郑州"},
         ExitNotAllowed, "cannot travel alone"),
        (replace(ADULT, can_travel_alone=False), "self_return", {"destination": "郑州"}, ExitNotAllowed,
         "cannot travel alone"),
        (CHILD, "family_pickup", COLLECTOR, ExitNotAllowed,
         "family_pickup of a person who may be under 16 or cannot travel alone needs a confirmed identity"),
        (replace(ADULT, categories=frozenset({"mental_illness"}), identity_status="self_reported"), "escorted_home",
         ESCORT, ExitNotAllowed, "needs a confirmed identity"),
        (ADULT, "family_pickup", {**COLLECTOR, "collector_id_number": ""}, InvalidExitDetails,
         "family_pickup must record collector_id_number"),
        (ADULT, "family_pickup", {**COLLECTOR, "collector_id_number": "110105194912310021"}, InvalidExitDetails,
         "collector ID number: checksum does not match"),
        (ADULT, "escorted_home", {**ESCORT, "receiving_office": " "}, InvalidExitDetails,
         "escorted_home must record receiving_office"),
        (ADULT, "self_return", {}, InvalidExitDetails, "self_return must record destination"),
        (replace(ADULT, settlement_eligible=True), "settlement", {}, Forbidden, "settlement needs a supervisor"),
        (replace(ADULT, actor_role="supervisor"), "settlement", {}, ExitNotAllowed, "needs the case to be eligible"),
        (replace(ADULT, actor_role="supervisor", settlement_eligible=True, age_min=15, age_max=16), "settlement", {},
         ExitNotAllowed, "may be under 16"),
        (replace(ADULT, state="returned"), "self_return", {"destination": "郑州"}, ExitNotAllowed,
         "a case in state returned cannot leave by self_return"),
        (replace(ADULT, state="settled"), "settlement", {}, ExitNotAllowed, "cannot leave by settlement"),
        (ADULT, "teleport", {}, InvalidValue, "unknown exit type"),
        (replace(ADULT, now=ARRIVED - timedelta(hours=1)), "deceased", {}, InvalidValue, "before the arrival"),
    ],
)
def test_refused_exits_name_the_rule(facts, exit_type, details, error, message):
    with pytest.raises(error, match=message) as err:
        check_exit(facts, exit_type, details)
    assert isinstance(err.value, DomainError)


@pytest.mark.parametrize("field", ["collector_name", "collector_id_number", "relation"])
def test_family_pickup_names_the_missing_field(field):
    with pytest.raises(InvalidExitDetails) as err:
        check_exit(ADULT, "family_pickup", {k: v for k, v in COLLECTOR.items() if k != field})
    assert err.value.field == field


@pytest.mark.parametrize(
    "exit_type, returned, stays_open",
    [
        ("family_pickup", True, False),
        ("escorted_home", True, False),
        ("self_return", True, False),
        ("transfer", False, True),
        ("settlement", False, True),
        ("left_voluntarily", False, False),
        ("medical", False, False),
        ("deceased", False, False),
    ],
)
def test_kpi_and_open_search(exit_type, returned, stays_open):
    assert counts_as_returned(exit_type) is returned
    assert search_stays_open(exit_type) is stays_open


def test_returned_home_exits():
    assert RETURNED_HOME_EXITS == {"family_pickup", "escorted_home", "self_return"}
    assert counts_as_returned(None) is False
