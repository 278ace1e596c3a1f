"""API for supervisors (API.md §Supervisor views): work queues with exports, statistics, data exchange."""
from __future__ import annotations

from flask import Response, jsonify, request

from ..domain.errors import InvalidValue
from ..models.types import utcnow
from ..services import exports, stats, worklists
from . import api_bp
from .auth import api_role, current_api_user
from .inputs import int_arg
from .schemas import iso

MAX_PER_PAGE = 200


def _file(data: bytes, fmt: str, stem: str) -> Response:
    name = exports.file_name(stem, fmt, utcnow())
    return Response(data, content_type=exports.MIME[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def _format(allowed: tuple[str, ...], default: str) -> str:
    fmt = (request.args.get("format") or default).strip().lower()
    if fmt not in allowed:
        raise InvalidValue(f"format must be one of: {', '.join(allowed)}", "format")
    return fmt


def queue_json(name: str, row: worklists.QueueRow) -> dict:
    body = exports.queue_record(name, row)
    case = row.case
    body.update(
        arrived_at=iso(case.arrived_at), identified_at=iso(case.identified_at), is_minor=case.is_minor,
        overdue=[{"rule": s.rule_code, "channel": s.channel, "due_at": iso(s.due_at), "description": s.description}
                 for s in row.overdue],
    )
    return body


def _queue(name: str):
    user = current_api_user()
    fmt = _format(("json",) + exports.TABLE_FORMATS, "json")
    page, per_page = int_arg("page", 1), int_arg("per_page", 50)
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidValue(f"page ≥ 1 and per_page between 1 and {MAX_PER_PAGE}", "per_page")
    rows = worklists.run(name, user, worklists.parse_filter(user, request.args))
    if fmt != "json":
        return _file(exports.queue_file(user, name, fmt, rows, ip=request.remote_addr), fmt, name)
    chunk = rows[(page - 1) * per_page: page * per_page]
    return jsonify({"items": [queue_json(name, r) for r in chunk], "total": len(rows)})


@api_bp.get("/queues/stranded")
@api_role("supervisor")
def stranded_queue():
    return _queue("stranded")


@api_bp.get("/queues/identified")
@api_role("supervisor")
def identified_queue():
    return _queue("identified")


@api_bp.get("/queues/minors")
@api_role("supervisor")
def minors_queue():
    return _queue("minors")


@api_bp.get("/stats")
@api_role("supervisor")
def stats_index():
    user = current_api_user()
    rng = stats.parse_range(request.args)
    station = worklists.parse_station(user, request.args)
    body = stats.summary(user, rng, station.id if station else None)
    scope = station or (user.station if user.role != "admin" else None)
    body["station"] = scope.code if scope else None
    return jsonify(body)


@api_bp.get("/exports/cases")
@api_role("supervisor")
def export_cases():
    user = current_api_user()
    fmt = _format(exports.EXCHANGE_FORMATS, "pfif")
    station = worklists.parse_station(user, request.args)
    data, _count = exports.export_cases(user, fmt, station.id if station else None, request.remote_addr)
    return _file(data, fmt, "cases")


@api_bp.get("/exports/reports")
@api_role("supervisor")
def export_reports():
    user = current_api_user()
    fmt = _format(exports.EXCHANGE_FORMATS, "pfif")
    status = (request.args.get("status") or "").strip() or None
    data, _count = exports.export_reports(user, fmt, status, request.remote_addr)
    return _file(data, fmt, f"reports-{status}" if status else "reports")
