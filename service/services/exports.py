"""Files for supervisors and other systems: queue tables as CSV/XLSX, cases and reports as PFIF 1.4/CSV.

Every file is built from an allow-list of columns: resident ID numbers, diagnoses, health and mental
state, belongings and named relatives are never written. Free text is scrubbed of anything shaped
like an ID number, and cells a spreadsheet would run as a formula are neutralised.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from ..domain.errors import InvalidValue
from ..domain.deadlines import CHINA_TZ
from ..domain.lifecycle import SEARCHING as EXCHANGE_CASE_STATES  # every case whose search is still open
from ..extensions import db
from ..formats.pfif import write_pfif
from ..formats.report_csv import write_csv
from ..formats.report_rows import CSV_COLUMNS, RECORD_DOMAIN
from ..formats.sheets import XLSX_MIME, scrub, table_csv, table_xlsx
from ..models import Case, GalleryReport, User
from . import audit
from .cases import visible_cases
from .worklists import QueueRow
from .reports import STATUSES as REPORT_STATUSES
from .reports import visible_reports

TABLE_FORMATS = ("csv", "xlsx")
EXCHANGE_FORMATS = ("pfif", "csv")
MIME = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_MIME, "pfif": "application/xml; charset=utf-8"}
EXTENSION = {"csv": "csv", "xlsx": "xlsx", "pfif": "xml"}


# ---------------------------------------------------------------- queue tables

COMMON_COLUMNS = ("case_no", "station", "name", "gender", "age", "categories", "state", "identity_status",
                  "arrived_on", "days_stranded", "overdue_steps")
QUEUE_COLUMNS = {
    "stranded": COMMON_COLUMNS + ("past_normal_limit",),
    "identified": COMMON_COLUMNS + ("identified_on", "identified_by_channel", "days_since_identified",
                                    "family_contacted", "return_arranged"),
    "minors": COMMON_COLUMNS + ("under_16", "notice_approved", "dna"),
}
# Which columns hold domain words the pages translate (the API keeps the codes).
CODED = {"gender": "", "categories": "", "state": "", "identity_status": "", "overdue_steps": "rule.",
         "identified_by_channel": "", "dna": ""}


def _age_text(age: tuple[int | None, int | None]) -> str:
    lo, hi = age
    if lo is None and hi is None:
        return ""
    return str(lo) if lo == hi or hi is None else f"{lo}-{hi}" if lo is not None else str(hi)


def _local_date(value: datetime | None) -> str:
    return value.astimezone(CHINA_TZ).date().isoformat() if value else ""


def queue_record(name: str, row: QueueRow) -> dict:
    """One queue row as plain values under QUEUE_COLUMNS[name] (lists for coded multi-values)."""
    case = row.case
    record = {
        "case_id": case.id,
        "case_no": case.case_no,
        "station": case.station.code if case.station else None,
        "name": case.name,
        "gender": case.gender,
        "age": _age_text(row.age),
        "categories": list(case.categories or []),
        "state": case.state,
        "identity_status": case.identity_status,
        "arrived_on": _local_date(case.arrived_at),
        "days_stranded": row.days_stranded,
        "overdue_steps": [s.rule_code for s in row.overdue],
    }
    if name == "stranded":
        record["past_normal_limit"] = row.stranded
    elif name == "identified":
        record.update(identified_on=_local_date(case.identified_at), identified_by_channel=case.identified_by_channel,
                      days_since_identified=row.details.get("days_since_identified"),
                      family_contacted=row.details.get("family_contacted"),
                      return_arranged=row.details.get("return_arranged"))
    elif name == "minors":
        record.update(under_16=row.details.get("under_16"), notice_approved=row.details.get("notice_approved"),
                      dna=row.details.get("dna"))
    return record


Label = Callable[[str], str]


def queue_table(name: str, rows: Iterable[QueueRow], header: dict | None = None,
                word: Label | None = None) -> tuple[list[str], list[list]]:
    """(header, rows) for a file; `header` names the columns, `word` translates coded values."""
    columns = QUEUE_COLUMNS[name]
    word = word or (lambda text: text)
    table = []
    for row in rows:
        record = queue_record(name, row)
        line = []
        for column in columns:
            value = record[column]
            if column in CODED and value is not None:
                prefix = CODED[column]
                values = value if isinstance(value, list) else [value]
                value = ", ".join(word(prefix + str(v)) for v in values)
            elif isinstance(value, bool):
                value = word("yes" if value else "no")
            line.append(value)
        table.append(line)
    return [str((header or {}).get(c, c)) for c in columns], table


def queue_file(actor: User, name: str, fmt: str, rows: Sequence[QueueRow], header: dict | None = None,
               word: Label | None = None, ip: str | None = None) -> bytes:
    """A queue as CSV or XLSX; the export is audited (it carries names)."""
    if fmt not in TABLE_FORMATS:
        raise InvalidValue(f"format must be one of: json, {', '.join(TABLE_FORMATS)}", "format")
    head, table = queue_table(name, rows, header, word)
    data = table_csv(head, table) if fmt == "csv" else table_xlsx(head, table, name)
    audit.record_now(actor.id, f"export.queue.{name}", detail={"format": fmt, "rows": len(table)}, ip=ip)
    return data


def file_name(stem: str, fmt: str, now: datetime) -> str:
    return f"huijia-{stem}-{now.astimezone(CHINA_TZ):%Y%m%d-%H%M}.{EXTENSION[fmt]}"


# ---------------------------------------------------------------- data exchange (PFIF 1.4 / CSV)


def case_exchange_row(case: Case) -> dict:
    """A case as a row for write_pfif/write_csv (kind "case"): what another system needs to match the
    person, nothing more — no ID number, diagnoses, health or mental state, belongings or relatives."""
    station = case.station
    arrived = case.arrived_at.astimezone(CHINA_TZ).date() if case.arrived_at else None
    extra = {
        "est_age_min": case.age_min, "est_age_max": case.age_max,
        "dialect": case.dialect, "clothing": case.clothing, "found_place": case.found_place,
        "height_cm": case.height_cm,
        "source_name": f"回家 Huijia · {station.name}" if station else "回家 Huijia",
        # The person is at (or placed by) the station: alive, as far as the station knows.
        "note_status": "believed_alive",
    }
    row = {
        "id": case.id,
        "external_id": f"{RECORD_DOMAIN}/case.{case.case_no or case.id}",
        "name": case.name,
        "gender": case.gender,
        "birth_date": case.birth_date,
        "hometown": case.hometown_hint or case.household_place,
        "marks": case.marks,
        # A fixed sentence instead of the clerk's free text, which may hold health details.
        "description": f"{arrived.isoformat() if arrived else ''} 入站，{station.name if station else ''}救助中"
                       f"（案件编号 {case.case_no}）",
        "contact_name": station.name if station else None,
        "extra": {k: v for k, v in extra.items() if v not in (None, "")},
    }
    row["extra"] = {k: (scrub(v) if isinstance(v, str) else v) for k, v in row["extra"].items()}
    return {k: (scrub(v) if isinstance(v, str) else v) for k, v in row.items()}


def report_exchange_row(report: GalleryReport) -> dict:
    """A missing-person report as a row for write_pfif/write_csv: every field, extensions included."""
    row = {field: getattr(report, field) for field in (
        "id", "external_id", "name", "gender", "birth_date", "age_at_missing", "missing_since", "missing_place",
        "hometown", "marks", "description", "contact_name", "contact_phone", "source")}
    # The same record id in PFIF and CSV, so that importing our file elsewhere (or here again) dedupes.
    row["external_id"] = report.external_id or f"{RECORD_DOMAIN}/report.{report.id}"
    row["extra"] = dict(report.extra or {})
    # A family's free text may hold someone's ID number: scrubbed like the case rows' (the file leaves us).
    for field in ("marks", "description"):
        if isinstance(row[field], str):
            row[field] = scrub(row[field])
    return row


CASE_CSV_COLUMNS = ("external_id", "name", "gender", "birth_date", "hometown", "marks", "description",
                    "contact_name", "est_age_min", "est_age_max", "dialect", "clothing", "found_place",
                    "height_cm", "source_name", "note_status")


def export_cases(actor: User, fmt: str, station_id: int | None = None, ip: str | None = None) -> tuple[bytes, int]:
    """Open cases (still searching) the actor may see, as PFIF 1.4 or CSV; (file, count). Audited."""
    if fmt not in EXCHANGE_FORMATS:
        raise InvalidValue(f"format must be one of: {', '.join(EXCHANGE_FORMATS)}", "format")
    from ..models import CaseEvent, Notice

    approved = or_(  # as notices.is_approved: the notice's approval, or the approval recorded as a case step
        select(Notice.id).where(Notice.case_id == Case.id, Notice.approved_at.is_not(None)).exists(),
        select(CaseEvent.id).where(CaseEvent.case_id == Case.id, CaseEvent.kind == "notice_approved").exists())
    query = (visible_cases(actor)
             # Only people still being searched for: an identified person's notices are withdrawn, and so is
             # their record here. A minor goes out only once a supervisor approved their public notice.
             .where(Case.state.in_(EXCHANGE_CASE_STATES), Case.identity_status != "confirmed",
                    or_(Case.is_minor.is_(False), approved))
             .options(joinedload(Case.station)))
    if station_id is not None:
        query = query.where(Case.station_id == station_id)
    rows = [case_exchange_row(c) for c in db.session.scalars(query.order_by(Case.id))]
    data = write_pfif(rows, kind="case") if fmt == "pfif" else write_csv(rows, CASE_CSV_COLUMNS)
    audit.record_now(actor.id, "export.cases", detail={"format": fmt, "rows": len(rows)}, ip=ip)
    return data, len(rows)


def export_reports(actor: User, fmt: str, status: str | None = None, ip: str | None = None) -> tuple[bytes, int]:
    """Missing-person reports (all, or of one status such as "found") as PFIF 1.4 or CSV. Audited."""
    if fmt not in EXCHANGE_FORMATS:
        raise InvalidValue(f"format must be one of: {', '.join(EXCHANGE_FORMATS)}", "format")
    if status and status not in REPORT_STATUSES:
        raise InvalidValue(f"status must be one of: {', '.join(REPORT_STATUSES)}", "status")
    query = visible_reports(actor)
    if status:
        query = query.where(GalleryReport.status == status)
    rows = [report_exchange_row(r) for r in db.session.scalars(query.order_by(GalleryReport.id))]
    columns = [c for c in CSV_COLUMNS if c != "photo_files"]  # photos stay behind the login
    data = write_pfif(rows, kind="report") if fmt == "pfif" else write_csv(rows, columns)
    audit.record_now(actor.id, "export.reports", detail={"format": fmt, "status": status, "rows": len(rows)}, ip=ip)
    return data, len(rows)
