"""One root for every rule the domain refuses; the API maps them to status codes."""


class DomainError(Exception):
    """A request the domain rules refuse; `field` names the input at fault, if any."""

    code = "domain_error"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidValue(DomainError):
    """Well-formed input with a value the rules do not accept (HTTP 422)."""

    code = "invalid_value"


class Conflict(DomainError):
    """A change the current state forbids (HTTP 409)."""

    code = "conflict"


class NotFound(DomainError):
    """No such record, or not visible to this user (HTTP 404)."""

    code = "not_found"


class Forbidden(DomainError):
    """The role may not do this (HTTP 403)."""

    code = "forbidden"
