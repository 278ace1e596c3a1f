"""SQLAlchemy models, one module per aggregate; importing this registers them all."""
from .audit import AuditEntry
from .case import Case, CaseEvent, ChannelEvent, Photo, SearchChannel
from .station import Station
from .user import ROLES, ApiToken, User

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Case",
    "CaseEvent",
    "ChannelEvent",
    "Photo",
    "ROLES",
    "SearchChannel",
    "Station",
    "User",
]
