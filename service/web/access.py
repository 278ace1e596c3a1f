"""Login and role checks for pages: every route names the least role it needs."""
from __future__ import annotations

from functools import wraps

from flask import abort, request
from flask_login import current_user, login_required

from ..services import audit


def role_required(role: str):
    def decorate(view):
        @login_required
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.has_role(role):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = role
        return wrapped

    return decorate


def client_ip() -> str | None:
    return request.remote_addr


def audit_view(action: str, object_type: str, object_id: int, detail: dict | None = None) -> None:
    audit.record_now(current_user.id, action, object_type, object_id, detail, client_ip())
