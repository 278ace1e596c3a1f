"""Spreadsheet tables (pure): every cell made safe, CSV with a BOM, XLSX without formulas."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone

from openpyxl import load_workbook

from service.formats.sheets import safe_cell, table_csv, table_xlsx

ID_NUMBER = "11010519491231002X"


def test_safe_cell():
    assert safe_cell("-1+2") == "'-1+2" and safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell(-3) == -3 and safe_cell(True) == "yes" and safe_cell(None) == ""
    assert safe_cell(f"电话13912345678 证件{ID_NUMBER}") == "电话13912345678 证件[ID removed]"
    assert safe_cell("旧证410102650101123") == "旧证[ID removed]"
    assert safe_cell("a\x00b\x1fc") == "abc"
    # Times are shown in Beijing time, dates as ISO.
    assert safe_cell(datetime(2026, 1, 31, 16, 5, tzinfo=timezone.utc)) == "2026-02-01 00:05"
    assert safe_cell(date(2026, 1, 31)) == "2026-01-31"


def test_table_csv_has_a_bom_crlf_and_no_formula():
    data = table_csv(["姓名", "备注"], [["张三", "=1+1"], [None, 3]])
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [["姓名", "备注"], ["张三", "'=1+1"], ["", "3"]]


def test_table_xlsx_keeps_text_as_text():
    data = table_xlsx(["name", "note"], [["=cmd|' /C calc'!A0", 7]], title="a/b:c*d?e[f]" * 4)
    sheet = load_workbook(io.BytesIO(data)).active
    assert len(sheet.title) <= 31 and "/" not in sheet.title
    cells = list(sheet.iter_rows(values_only=False))
    assert cells[1][0].data_type == "s" and cells[1][0].value.startswith("'=")
    assert cells[1][1].value == 7
