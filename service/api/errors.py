"""The one error envelope of the API: {"error": {"code", "message", "field"?}}."""
from __future__ import annotations

import logging

from flask import jsonify
from werkzeug.exceptions import HTTPException

from ..domain.errors import Conflict, DomainError, Forbidden, InvalidValue, NotFound

log = logging.getLogger(__name__)

_DOMAIN_STATUS = ((NotFound, 404), (Forbidden, 403), (Conflict, 409), (InvalidValue, 422))
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_value",
    429: "too_many_requests",
    503: "unavailable",
}


def error_response(status: int, code: str, message: str, field: str | None = None):
    body = {"code": code, "message": message}
    if field:
        body["field"] = field
    return jsonify({"error": body}), status


def domain_error(exc: DomainError):
    status = getattr(exc, "status", None)
    if status is None:
        status = next((s for cls, s in _DOMAIN_STATUS if isinstance(exc, cls)), 422)
    return error_response(status, exc.code, exc.message, exc.field)


def http_error(exc: HTTPException):
    code = exc.code or 500
    message = exc.description if code < 500 else "the service could not complete the request"
    return error_response(code, _HTTP_CODES.get(code, "error"), message)


def unexpected_error(exc: Exception):
    from sqlalchemy.exc import DataError, OperationalError

    if isinstance(exc, HTTPException):
        return http_error(exc)
    if isinstance(exc, DataError):  # a value the database cannot hold: NUL characters, a number out of range
        log.warning("event=api_bad_value error=%s", type(exc.orig).__name__)
        return error_response(422, "invalid_value", "a value is malformed or out of range")
    if isinstance(exc, OperationalError):
        log.error("event=database_unavailable error=%s", type(exc).__name__)
        return error_response(503, "database_unavailable", "the database is unavailable; try again shortly")
    log.exception("event=api_unexpected_error")
    return error_response(500, "internal_error", "the service could not complete the request")
