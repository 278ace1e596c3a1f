"""API for the family-search notice (寻亲公告): the notice in four formats, approval, the push text."""
from __future__ import annotations

import base64
import io

from flask import current_app, jsonify, render_template, request, send_file, url_for

from ..formats.notice_render import contact_line, notice_lines
from ..models import Case
from ..services import notices
from ..services.cases import get_case
from . import api_bp
from .auth import api_role, current_api_user
from .schemas import iso


def _settings():
    return current_app.config["HUIJIA"]


def approval_json(case: Case) -> dict:
    row = notices.notice_of(case)
    return {
        "case_id": case.id,
        "state": notices.notice_state(case, row),
        "needs_approval": notices.needs_approval(case, row),
        "approved_by_id": row.approved_by_id if row else None,
        "approved_at": iso(row.approved_at) if row else None,
        "withdrawn_at": iso(row.withdrawn_at) if row else None,
        "withdrawn_reason": row.withdrawn_reason if row else None,
    }


def notice_json(case: Case, served: notices.Served) -> dict:
    body = {**served.fields, **approval_json(case)}
    body["lines"] = [{"label": label, "value": value} for label, value in notice_lines(served.fields)]
    body["contact"] = contact_line(served.fields)
    photo = notices.notice_photo(case) if served.fields.get("photo_id") else None
    body["photo_url"] = url_for("api.photo_content", sha256=photo.sha256) if photo else None
    return body


@api_bp.get("/cases/<int:case_id>/notice")
@api_role("staff")
def notice_show(case_id: int):
    user = current_api_user()
    case = get_case(user, case_id)
    fmt = request.args.get("format", "json").strip().lower()
    served = notices.serve_notice(user, case, fmt, _settings(), request.remote_addr)
    if served.content is not None:
        return send_file(io.BytesIO(served.content), mimetype=served.mimetype, download_name=served.filename, max_age=0)
    if fmt == "html":
        jpeg = notices.photo_for_html(case, _settings(), served.fields)
        html = render_template(
            "notices/public.html",
            fields=served.fields,
            lines=notice_lines(served.fields),
            contact=contact_line(served.fields),
            photo_src=f"data:image/jpeg;base64,{base64.b64encode(jpeg).decode('ascii')}" if jpeg else None,
        )
        return html, 200, {"Content-Type": "text/html; charset=utf-8"}
    return jsonify(notice_json(case, served))


@api_bp.post("/cases/<int:case_id>/notice/approve")
@api_role("supervisor")
def notice_approve(case_id: int):
    user = current_api_user()
    case = get_case(user, case_id)
    notices.approve(user, case, request.remote_addr)
    return jsonify(approval_json(case))


@api_bp.get("/cases/<int:case_id>/notice/push")
@api_role("staff")
def notice_push(case_id: int):
    user = current_api_user()
    case = get_case(user, case_id)
    return jsonify(notices.serve_push(user, case, request.remote_addr))
