"""Photo files and face crops: behind login, by unguessable content hash, every view audited."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, send_file
from flask_login import current_user
from sqlalchemy import select

from ..domain.errors import NotFound
from ..extensions import db
from ..models import Face, Photo
from ..services.cases import get_case
from ..services.intake import photo_file
from ..services.leads import get_lead
from ..media import media_path
from .access import audit_view, role_required

bp = Blueprint("media", __name__)


def visible_photo(sha256: str) -> Photo | None:
    """A photo with this content that the user may see (own station's case, or any report)."""
    rows = db.session.scalars(select(Photo).where(Photo.sha256 == sha256).order_by(Photo.id)).all()
    for row in rows:
        if row.report_id is not None:
            return row
        try:
            if row.lead_id is not None:  # a street lead's photo: staff of the lead's station
                get_lead(current_user, row.lead_id)
                return row
            get_case(current_user, row.case_id)
            return row
        except NotFound:
            continue
    return None


@bp.get("/media/photos/<string:sha256>.jpg")
@role_required("staff")
def photo(sha256: str):
    row = visible_photo(sha256)
    if row is None:
        abort(404)
    path = photo_file(current_app.config["HUIJIA"].media_dir, row)
    if not path.exists():
        abort(404)
    audit_view("photo.view", "photo", row.id, {"case_id": row.case_id, "report_id": row.report_id, "lead_id": row.lead_id})
    mimetype = "image/jpeg" if row.normalized_sha256 else row.mime
    return send_file(path, mimetype=mimetype, max_age=0, conditional=True)


@bp.get("/media/crops/<string:sha256>.jpg")
@role_required("staff")
def crop(sha256: str):
    faces = db.session.scalars(select(Face).where(Face.crop_sha256 == sha256, Face.template_id.is_not(None))).all()
    face = next((f for f in faces if visible_photo(f.photo.sha256) is not None), None)
    if face is None:
        abort(404)
    path = media_path(current_app.config["HUIJIA"].media_dir, sha256, "jpg")
    if not path.exists():
        abort(404)
    audit_view("face.view", "face", face.id, {"photo_id": face.photo_id})
    return send_file(path, mimetype="image/jpeg", max_age=0)
