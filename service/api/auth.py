"""Bearer tokens for the API and the role check every endpoint declares."""
from __future__ import annotations

from functools import wraps

from flask import g, request

from ..services.users import user_for_token
from .errors import error_response


def current_api_user():
    return g.get("api_user")


def api_role(role: str):
    """Require `Authorization: Bearer <token>` of a user with at least `role`."""

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            user = user_for_token(token.strip()) if scheme.lower() == "bearer" and token else None
            if user is None:
                return error_response(401, "unauthorized", "a valid bearer token is required")
            if not user.has_role(role):
                return error_response(403, "forbidden", f"this needs the {role} role or higher")
            g.api_user = user
            return view(*args, **kwargs)

        wrapped.required_role = role
        return wrapped

    return decorate
