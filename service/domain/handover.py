"""Nothing is handed to an unverified "family": what a verification must record before a pickup or escort home.

民政部·公安部 2015: identity is checked with the police (hukou, fingerprints, DNA) before a return; a minor
goes only to a guardian whose relation is proven. A verification names its evidence and who checked it;
a minor's needs DNA or the police's confirmation, and a supervisor's approval.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import Conflict, Forbidden, InvalidValue

# What can show that the family is the family.
EVIDENCE_KINDS = ("dna_match", "police_hukou", "id_check", "video_call", "family_photos")
# Official confirmations: a DNA match in the national database, or the police's hukou check.
STRONG_EVIDENCE = frozenset({"dna_match", "police_hukou"})
# Exits that hand the person to family (or to the home-area office that hands them on).
VERIFIED_EXITS = frozenset({"family_pickup", "escorted_home"})
ADULT_MIN_EVIDENCE = 1
MINOR_MIN_EVIDENCE = 2


class HandoverNotVerified(Conflict):
    code = "handover_not_verified"


class InvalidVerification(InvalidValue):
    code = "invalid_verification"


@dataclass(frozen=True)
class Verification:
    evidence: frozenset[str]
    checked_by_id: int | None
    approved_by_id: int | None = None
    revoked: bool = False


def check_evidence(evidence, minor: bool) -> frozenset[str]:
    """The evidence kinds, cleaned; refuses too little for the person."""
    if any(e is not None and not isinstance(e, str) for e in evidence or ()):
        raise InvalidVerification("each evidence kind is a word, e.g. dna or hukou", "evidence")
    kinds = frozenset(e for e in evidence or () if e)
    unknown = sorted(kinds - set(EVIDENCE_KINDS))
    if unknown:
        raise InvalidVerification(f"unknown evidence: {unknown[0]} (one of {', '.join(EVIDENCE_KINDS)})", "evidence")
    if len(kinds) < ADULT_MIN_EVIDENCE:
        raise InvalidVerification("name the evidence that was checked (DNA, hukou/police, ID, video call, photos)", "evidence")
    if minor and (len(kinds) < MINOR_MIN_EVIDENCE or not kinds & STRONG_EVIDENCE):
        raise InvalidVerification(
            f"a minor's family needs at least {MINOR_MIN_EVIDENCE} kinds of evidence, one of them a DNA match "
            "or the police's hukou confirmation", "evidence")
    return kinds


def check_approval(approver_role_ok: bool, approver_id: int, verification: Verification) -> None:
    if not approver_role_ok:
        raise Forbidden("approving a minor's handover needs a supervisor")
    if verification.revoked:
        raise Conflict("this verification was withdrawn", "verification")
    if approver_id == verification.checked_by_id:
        raise Forbidden("the supervisor who approves is not the person who checked")


def verified(verification: Verification | None, minor: bool) -> str | None:
    """None when the family is verified for this person, else why not."""
    if verification is None or verification.revoked:
        return "no verification of the family is recorded"
    if not verification.evidence or verification.checked_by_id is None:
        return "the verification names no evidence or no checker"
    if minor:
        if not verification.evidence & STRONG_EVIDENCE or len(verification.evidence) < MINOR_MIN_EVIDENCE:
            return "a minor's family needs DNA or police confirmation and a second kind of evidence"
        if verification.approved_by_id is None:
            return "a minor's handover needs a supervisor's approval"
    return None


def check_handover(exit_type: str, verification: Verification | None, minor: bool) -> None:
    """Refuse a pickup or escort home to a family no one verified (HandoverNotVerified)."""
    if exit_type not in VERIFIED_EXITS:
        return
    why = verified(verification, minor)
    if why:
        raise HandoverNotVerified(f"{exit_type} needs a verified family first: {why}", "verification")


def latest(verifications) -> Verification | None:
    """The newest verification not withdrawn."""
    live = [v for v in verifications if not v.revoked]
    return live[-1] if live else None
