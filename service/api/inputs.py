"""Reading a request: the JSON object body and whole-number query arguments."""
from __future__ import annotations

from flask import request

from ..domain.errors import DomainError, InvalidValue


class MalformedBody(DomainError):
    code = "bad_request"
    status = 400

    def __init__(self):
        super().__init__("the body must be a JSON object")


def json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise MalformedBody()
    return body


def int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidValue(f"{name} must be a whole number", name) from exc
