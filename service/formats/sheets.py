"""Tables as files a spreadsheet opens: CSV (UTF-8 with a BOM) and XLSX, every cell made safe.

Safe means: no ID-shaped numbers (scrubbed), no formula (a leading quote), no control characters.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from ..domain.identity import scrub_ids
from ..domain.deadlines import CHINA_TZ

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Characters XML (and so XLSX) cannot hold.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def scrub(value) -> str:
    """A cell's text with ID-shaped numbers removed (the pattern, in domain/identity.py, is shared with the views)."""
    return scrub_ids(str(value))


def unformula(text: str) -> str:
    """A leading quote makes Excel and LibreOffice keep "=cmd|..." as text (OWASP CSV injection advice)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def safe_cell(value):
    """Text neutralised for a spreadsheet: no ID numbers, no formula, no control characters."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, datetime):
        value = value.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
    elif isinstance(value, date):
        value = value.isoformat()
    return unformula(_CONTROL.sub("", scrub(value)))


def table_csv(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """CSV in UTF-8 with a BOM (Excel shows Chinese), every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def table_xlsx(header: Sequence[str], rows: Iterable[Sequence], title: str = "queue") -> bytes:
    """An XLSX workbook of one sheet; text cells are stored as text, never as formulas."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=re.sub(r"[\[\]:*?/\\]", "", title)[:31] or "sheet")
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def cells(values, font=None):
        out = []
        for value in values:
            value = safe_cell(value)
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never "f", whatever the text looks like
            if font is not None:
                cell.font = font
            out.append(cell)
        return out

    sheet.append(cells(header, bold))
    for row in rows:
        sheet.append(cells(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
