"""Photo files: behind login, by unguessable content hash, every view audited."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, send_file
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..models import Photo
from ..services.cases import get_case
from ..domain.errors import NotFound
from ..services.intake import photo_file
from .access import audit_view, role_required

bp = Blueprint("media", __name__)


@bp.get("/media/photos/<string:sha256>.jpg")
@role_required("staff")
def photo(sha256: str):
    row = db.session.scalar(select(Photo).where(Photo.sha256 == sha256).order_by(Photo.id).limit(1))
    if row is None or row.case_id is None:
        abort(404)
    try:
        get_case(current_user, row.case_id)  # visibility: same station or admin
    except NotFound:
        abort(404)
    path = photo_file(current_app.config["HUIJIA"].media_dir, row)
    if not path.exists():
        abort(404)
    audit_view("photo.view", "photo", row.id, {"case_id": row.case_id})
    mimetype = "image/jpeg" if row.normalized_sha256 else row.mime
    return send_file(path, mimetype=mimetype, max_age=0, conditional=True)
