"""The role ladder: one list, each role allowed what the ones below it are."""
from __future__ import annotations

import pytest

from service.domain.roles import ROLES, role_at_least


def test_the_ladder_lowest_first():
    assert ROLES == ("reporter", "staff", "supervisor", "admin")


@pytest.mark.parametrize("role,needed,allowed", [
    ("admin", "supervisor", True), ("supervisor", "supervisor", True), ("staff", "supervisor", False),
    ("reporter", "staff", False), ("reporter", "reporter", True), (None, "reporter", False), ("root", "staff", False),
])
def test_role_at_least(role, needed, allowed):
    assert role_at_least(role, needed) is allowed


def test_a_user_and_the_domain_read_the_same_ladder():
    from service.models import User

    assert [User(role=r).has_role("supervisor") for r in ROLES] == [False, False, True, True]
