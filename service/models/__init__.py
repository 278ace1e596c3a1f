"""SQLAlchemy models, one module per aggregate; importing this registers them all."""
from .audit import AuditEntry
from .case import Case, CaseEvent, ChannelEvent, Photo, SearchChannel
from .gallery import GalleryReport, Job
from .match import CandidateMatch, Face
from .station import Station
from .user import ROLES, ApiToken, User

__all__ = [
    "ApiToken",
    "AuditEntry",
    "CandidateMatch",
    "Case",
    "CaseEvent",
    "ChannelEvent",
    "Face",
    "GalleryReport",
    "Job",
    "Photo",
    "ROLES",
    "SearchChannel",
    "Station",
    "User",
]
