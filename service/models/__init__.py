"""SQLAlchemy models, one module per aggregate; importing this registers them all."""
from .audit import AuditEntry
from .clues import ClueKey, ClueProfile
from .case import Case, CaseEvent, ChannelEvent, Photo, SearchChannel
from .gallery import GalleryReport, Job
from .heartbeat import Heartbeat
from .lead import Campaign, Lead, PatrolRun
from .match import CandidateMatch, Face, FaceTemplate
from .notice import Notice
from .family_search import DeadlineAlert, FamilyContact
from .returns import FollowUp, HandoverVerification, ReArrivalAlert
from .privacy import BiometricBasis, PrivacyAlert, ProcessingRecord
from .search_gap import SearchGap
from .station import Station
from .user import ApiToken, User

__all__ = [
    "ReArrivalAlert",
    "HandoverVerification",
    "FollowUp",
    "ClueProfile",
    "ClueKey",
    "ApiToken",
    "AuditEntry",
    "BiometricBasis",
    "CandidateMatch",
    "Campaign",
    "Case",
    "CaseEvent",
    "ChannelEvent",
    "DeadlineAlert",
    "FamilyContact",
    "Face",
    "FaceTemplate",
    "GalleryReport",
    "Heartbeat",
    "Job",
    "Lead",
    "Notice",
    "PatrolRun",
    "Photo",
    "PrivacyAlert",
    "ProcessingRecord",
    "SearchChannel",
    "SearchGap",
    "Station",
    "User",
]
