"""Choose a face: the one use case behind the chooser on case, report and lead pages and the API.

A photo whose faces are equally plausible is searched with each of them and waits here for a person
(`waiting`); a face chosen automatically can be changed the same way. The station owns the choice:
staff choose on their station's cases, leads and reports (admins anywhere); another station's staff
may see a shared report but not change which face it searches with.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select

from ..domain.errors import Forbidden, InvalidValue, NotFound
from ..extensions import db
from ..models import CandidateMatch, Case, Face, GalleryReport, Lead, Photo, User
from .. import tasking
from . import audit

WAITING_STATUS = "multiple_faces"
CLOSED_CASE_STATES = ("returned", "deceased")


@dataclass
class Choice:
    photo: Photo
    face: Face


def _owner_check(actor: User, photo: Photo) -> None:
    """NotFound for a photo the actor may not see; Forbidden for a shared report of another station."""
    if photo.case_id is not None:
        from .cases import get_case

        get_case(actor, photo.case_id)
    elif photo.lead_id is not None:
        from .leads import get_lead

        get_lead(actor, photo.lead_id)
        if not actor.has_role("staff"):  # a reporter sees their own lead, never its faces
            raise NotFound(f"photo {photo.id} not found")
    else:
        from .reports import get_report

        report = get_report(actor, photo.report_id)
        if not may_choose_on_report(actor, report):
            raise Forbidden("only the report's station chooses the face it is searched with")


def may_choose_on_report(actor: User, report: GalleryReport) -> bool:
    return actor.role == "admin" or report.station_id in (None, actor.station_id)


def may_choose(actor: User, photo: Photo) -> bool:
    """Whether the chooser is offered on a page (the same checks as `choose`)."""
    try:
        _owner_check(actor, photo)
    except (NotFound, Forbidden):
        return False
    return photo.status in ("multiple_faces", "low_quality", "processed")


def choose(actor: User, photo_id: int, face_id: int, ip: str | None = None) -> Choice:
    """Match the photo with this face only: audit row, commit, then matching of the photo's owner."""
    from ..matching.candidates import queue_for_photo
    from ..matching.faces import choose_face, shown_faces

    photo = db.session.get(Photo, photo_id)
    if photo is None:
        raise NotFound(f"photo {photo_id} not found")
    _owner_check(actor, photo)
    face = next((f for f in shown_faces(photo.id) if f.id == face_id), None)
    if face is None:  # another photo's, or an older engine version's (replaced by a re-encode)
        raise NotFound(f"face {face_id} is not a face of photo {photo_id}")
    photo = db.session.scalar(select(Photo).where(Photo.id == photo_id).with_for_update().execution_options(populate_existing=True))
    previous = photo.status
    chosen = choose_face(photo, face_id, face.engine)
    withdrawn = _withdraw_other_faces(photo, chosen)
    audit.record(actor.id, "photo.face_choose", "photo", photo.id,
                 {"face_id": chosen.id, "face_index": chosen.face_index, "was": previous, "withdrawn": withdrawn}, ip)
    db.session.commit()
    queue_for_photo(photo)
    return Choice(photo, chosen)


def _withdraw_other_faces(photo: Photo, chosen: Face) -> int:
    """Pending candidates found through another face of this photo go: they were searched only while the
    photo was ambiguous (or with a face now corrected). Decided pairs stay exactly as people decided."""
    others = select(Face.id).where(Face.photo_id == photo.id, Face.id != chosen.id)
    result = db.session.execute(
        delete(CandidateMatch).where(
            CandidateMatch.status == "pending",
            or_(CandidateMatch.case_face_id.in_(others), CandidateMatch.other_face_id.in_(others)),
        )
    )
    return result.rowcount or 0


def _waiting_query(actor: User):
    cases = select(Case.id).where(Case.state.not_in(CLOSED_CASE_STATES))
    reports = select(GalleryReport.id).where(GalleryReport.status == "open")
    leads = select(Lead.id).where(Lead.status != "closed")
    if actor.role != "admin":
        cases = cases.where(Case.station_id == actor.station_id)
        reports = reports.where(or_(GalleryReport.station_id == actor.station_id, GalleryReport.station_id.is_(None)))
        leads = leads.where(Lead.station_id == actor.station_id)
    return select(Photo).where(
        Photo.status == WAITING_STATUS,
        or_(Photo.case_id.in_(cases), Photo.report_id.in_(reports), Photo.lead_id.in_(leads)),
    )


def waiting(actor: User, page: int = 1, per_page: int = 50) -> tuple[list[Photo], int]:
    """Photos waiting for a face choice on the actor's station (admins: everywhere), oldest first."""
    if not actor.has_role("staff"):
        return [], 0
    if page < 1 or not 1 <= per_page <= 200:
        raise InvalidValue("page must be 1 or more and per_page 1 to 200", "page")
    query = _waiting_query(actor)
    rows = db.session.scalars(query.order_by(Photo.id).offset((page - 1) * per_page).limit(per_page)).all()
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    return list(rows), total or 0


def waiting_count(actor: User) -> int:
    if not actor.has_role("staff"):
        return 0
    return db.session.scalar(select(func.count()).select_from(_waiting_query(actor).subquery())) or 0
