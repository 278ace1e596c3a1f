"""Exports: queue tables as CSV/XLSX (formula injection, no ID numbers) and PFIF/CSV data exchange round trips."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook

from service.domain.errors import InvalidValue
from service.models import AuditEntry
from service.models.types import utcnow
from service.formats.pfif import parse_pfif
from service.formats.report_csv import parse_csv
from service.services import exports, worklists
from tests.support.casefactory import days_ago, make_case, report

ID_NUMBER = "11010519491231002X"
FORMULA = "=HYPERLINK(\"http://evil.example\",\"点我\")"


@pytest.fixture()
def hostile(db, stations, users):
    """A stranded case whose typed fields carry a formula and an ID number."""
    now = utcnow()
    return make_case(stations["main"], days_ago(now, 14), name=FORMULA, id_number=ID_NUMBER, age_min=30, age_max=40,
                     found_place=f"身份证{ID_NUMBER}旁边", health_notes="糖尿病", mental_state="精神分裂症",
                     categories=["mental_illness"], dialect="河南话", hometown_hint="河南周口", clothing="+蓝色棉衣",
                     marks="左眉有痣")


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _xlsx_cells(data: bytes):
    sheet = load_workbook(io.BytesIO(data)).active
    return [[cell for cell in row] for row in sheet.iter_rows()]


def test_queue_csv_neutralises_formulas_and_drops_id_numbers(hostile, users, db):
    sup = users["supervisor"]
    rows = worklists.stranded(sup)
    data = exports.queue_file(sup, "stranded", "csv", rows)
    table = _csv_rows(data)
    assert table[0] == list(exports.QUEUE_COLUMNS["stranded"])
    record = dict(zip(table[0], table[1]))
    assert record["name"] == "'" + FORMULA
    assert record["case_no"] == hostile.case_no and record["days_stranded"] == "14"
    assert record["categories"] == "mental_illness" and record["past_normal_limit"] == "yes"
    assert "portal_notice" in record["overdue_steps"]
    text = data.decode("utf-8-sig")
    assert ID_NUMBER not in text and "19491231" not in text
    assert "糖尿病" not in text and "精神分裂症" not in text
    assert db.session.query(AuditEntry).filter_by(action="export.queue.stranded").count() == 1


def test_queue_xlsx_keeps_text_as_text(hostile, users):
    sup = users["supervisor"]
    header = {"case_no": "案件编号", "name": "姓名"}
    data = exports.queue_file(sup, "stranded", "xlsx", worklists.stranded(sup), header, lambda w: w.upper())
    cells = _xlsx_cells(data)
    heads = [c.value for c in cells[0]]
    assert heads[:3] == ["案件编号", "station", "姓名"]
    assert cells[0][0].font.b
    row = {h: c for h, c in zip(heads, cells[1])}
    assert row["姓名"].value == "'" + FORMULA and row["姓名"].data_type == "s"
    assert row["days_stranded"].value == 14 and row["days_stranded"].data_type == "n"
    assert row["categories"].value == "MENTAL_ILLNESS"  # coded values go through the translator
    assert all(c.data_type != "f" for line in cells for c in line)
    values = " ".join(str(c.value) for line in cells for c in line)
    assert ID_NUMBER not in values


def test_an_unknown_table_format_is_refused():
    with pytest.raises(InvalidValue):
        exports.queue_file(None, "stranded", "pdf", [])


def test_cases_pfif_carries_what_matching_needs_and_nothing_sensitive(hostile, users, stations, db):
    make_case(stations["main"], days_ago(utcnow(), 3), exit_type="family_pickup", closed=utcnow())  # closed
    data, count = exports.export_cases(users["supervisor"], "pfif")
    assert count == 1
    text = data.decode()
    assert 'xmlns:pfif="http://zesty.ca/pfif/1.4"' in text and "<hj:found_place>" in text
    for secret in (ID_NUMBER, "19491231", "糖尿病", "精神分裂症"):
        assert secret not in text
    (row,) = list(parse_pfif(data))
    assert row.error is None
    fields = row.fields
    assert fields["external_id"] == f"huijia.example/case.{hostile.case_no}"
    assert fields["name"] == FORMULA and fields["hometown"] == "河南周口" and fields["marks"] == "左眉有痣"
    assert fields["extra"]["est_age_min"] == 30 and fields["extra"]["est_age_max"] == 40
    assert fields["extra"]["dialect"] == "河南话" and fields["extra"]["note_status"] == "believed_alive"
    assert fields["extra"]["found_place"] == "身份证[ID removed]旁边"
    assert "mental_state" not in fields["extra"]
    csv_data, _ = exports.export_cases(users["supervisor"], "csv")
    assert ID_NUMBER not in csv_data.decode("utf-8-sig") and "'+蓝色棉衣" in csv_data.decode("utf-8-sig")
    assert db.session.query(AuditEntry).filter_by(action="export.cases").count() == 2


def test_other_stations_cases_are_not_exported(hostile, users, stations):
    make_case(stations["other"], days_ago(utcnow(), 3), name="南开某")
    assert exports.export_cases(users["supervisor"], "pfif")[1] == 1
    assert exports.export_cases(users["admin"], "pfif")[1] == 2
    assert exports.export_cases(users["admin"], "csv", stations["other"].id)[1] == 1


@pytest.fixture()
def reports(db, users):
    full = report(
        status="found", source="police", external_id="police.example/2026-001", name="张小红", gender="female",
        birth_date=date(2012, 5, 17), age_at_missing=11, missing_since=date(2023, 9, 1), missing_place="河南省周口市川汇区",
        hometown="河南周口", marks="左眉有痣; 右手背烫伤", description="走失时穿红色外套\n“说话带口音”",
        contact_name="张大山", contact_phone="13912345678",
        extra={"est_age_min": 13, "est_age_max": 15, "mental_state": "轻度智力障碍", "dialect": "河南话",
               "clothing": "红色外套", "found_place": "天津站", "height_cm": 150, "source_name": "公安寻人系统",
               "photo_url": "https://police.example/p/1.jpg", "note_status": "believed_alive"},
    )
    plain = report(status="found", source="family", name="李四", gender="unknown", birth_date=None,
                   description="=cmd|' /C calc'!A0", extra={"birth_year": 1950})
    still_open = report(status="open", source="family", name="王五", gender="male", hometown="四川南充")
    return {"full": full, "plain": plain, "open": still_open}


REPORT_FIELDS = ("name", "birth_date", "age_at_missing", "missing_since", "missing_place", "hometown", "marks",
                 "description", "contact_name", "contact_phone", "source")


def _expected(row) -> dict:
    values = {f: getattr(row, f) for f in REPORT_FIELDS if getattr(row, f) not in (None, "")}
    values["gender"] = row.gender
    values["external_id"] = row.external_id or f"huijia.example/report.{row.id}"
    return values, dict(row.extra or {})


def _parsed(fields: dict) -> tuple[dict, dict]:
    values = {k: v for k, v in fields.items() if k not in ("extra", "photo_files")}
    values.setdefault("gender", "unknown")  # PFIF has no "unknown" sex: left out, read back as unknown
    return values, fields["extra"]


@pytest.mark.parametrize("fmt", ["pfif", "csv"])
def test_found_reports_round_trip_without_loss(reports, users, fmt):
    data, count = exports.export_reports(users["supervisor"], fmt, "found")
    assert count == 2
    rows = list(parse_pfif(data) if fmt == "pfif" else parse_csv(data))
    assert [r.error for r in rows] == [None, None]
    for original, parsed in zip((reports["full"], reports["plain"]), rows):
        assert _parsed(parsed.fields) == _expected(original)


def test_all_reports_and_bad_arguments(reports, users):
    assert exports.export_reports(users["supervisor"], "pfif")[1] == 3
    assert exports.export_reports(users["supervisor"], "csv", "open")[1] == 1
    with pytest.raises(InvalidValue):
        exports.export_reports(users["supervisor"], "pfif", "lost")
    with pytest.raises(InvalidValue):
        exports.export_reports(users["supervisor"], "xlsx")
