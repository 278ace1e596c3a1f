"""Who may do what: the role ladder, each role allowed what the ones below it are."""
from __future__ import annotations

# A reporter (patrol member, partner volunteer, driver) only sends street leads and sees their own.
ROLES = ("reporter", "staff", "supervisor", "admin")


def role_at_least(role: str | None, needed: str) -> bool:
    """Whether `role` is `needed` or above it; an unknown role is below every role."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)
