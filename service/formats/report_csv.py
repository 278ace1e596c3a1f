"""Missing-person reports as CSV: read (UTF-8/UTF-16/GBK, any delimiter, Chinese headers) and write."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date

from .report_rows import (CSV_COLUMNS, EXTRA_FIELDS, HEADER_ALIASES, MAX_ROWS, NEVER_EXPORTED, FormatError,
                          ParsedRow, binary_kind, build_row, check_size, photo_index, unique_ids)
from .sheets import FORMULA_STARTS, unformula


def _decode(data: bytes) -> str:
    """Text of a CSV file: UTF-16 by its BOM, else strict UTF-8 (BOM optional), else GB18030 (covers GBK)."""
    check_size(data)
    if kind := binary_kind(data):
        raise FormatError(f"this is {kind}, not a CSV text file")
    codecs = ("utf-16",) if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig", "gb18030")
    for codec in codecs:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text.removeprefix("\ufeff")  # a GB18030 file may carry its own BOM
    raise FormatError("this is not CSV text in UTF-8, UTF-16 or GBK/GB18030")


def _unescape(value: str) -> str:
    """Undo write_csv's formula guard: one leading ' before a formula character."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_STARTS:
        return value[1:].strip()
    return value


def _header_field(cell: str) -> str | None:
    # "身高（cm）", "Birth Date", "姓名*" → the bare name
    name = re.sub(r"[（(].*?[)）]", "", cell).strip().strip("*:：").strip().lower()
    return HEADER_ALIASES.get(re.sub(r"[\s\-]+", "_", name))


def _header_columns(cells: list[str]) -> list[tuple[int, str]]:
    """(column index, field) for every known header; unknown columns are ignored."""
    return [(index, field) for index, cell in enumerate(cells) if (field := _header_field(cell))]


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """(first line, cells, error) per CSV record; a record csv cannot read is reported, not raised."""
    # strict: a stray quote is reported on its row instead of silently gluing the next rows together
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 1
    while True:
        try:
            yield start, next(reader), None
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over csv's size limit: the reader goes on with the next line
            yield start, None, f"unreadable row: {exc}"
        start = reader.line_num + 1


_HEADER_SEARCH = 5  # Excel sheets often carry a title row (寻人信息表) above the header


def _delimiter(text: str) -> str:
    """The delimiter csv.Sniffer finds, unless another one gives the header more known columns."""
    # A short sample of whole lines: the sniffer's regular expressions get slow on long text.
    sample = text[:16384].rsplit("\n", 1)[0] if len(text) > 16384 else text
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        sniffed = ","

    def known_columns(delimiter: str) -> int:
        lines = sample.splitlines()[:_HEADER_SEARCH]
        return max((len(_header_columns(cells)) for cells in csv.reader(lines, delimiter=delimiter)), default=0)

    return max((sniffed, ",", ";", "\t"), key=known_columns)  # max keeps the first on a tie: the sniffed one


def parse_csv(data: bytes, photo_names: set[str] | None = None) -> Iterator[ParsedRow]:
    """Reports from a CSV file; FormatError at once if the file is not a CSV of reports."""
    text = _decode(data)
    delimiter = _delimiter(text)
    records = _records(text, delimiter)
    columns: list[tuple[int, str]] = []
    for _ in range(_HEADER_SEARCH):
        header = next(records, (0, [], None))[1] or []
        if columns := _header_columns(header):
            break
    if not columns:
        raise FormatError("no known column in the header: expected e.g. name/姓名, gender/性别, "
                          "birth_date/出生日期, missing_since/走失日期")
    data_rows = sum(1 for _, cells, _ in _records(text, delimiter) if cells is None or any(cells))
    if data_rows - 1 > MAX_ROWS:
        raise FormatError(f"the file has more than {MAX_ROWS} rows: split it")
    return unique_ids(_csv_rows(records, columns, photo_index(photo_names)))


def _csv_rows(records, columns: list[tuple[int, str]], zip_index: dict | None) -> Iterator[ParsedRow]:
    for line, cells, error in records:
        if error:
            yield ParsedRow(line, None, error)
            continue
        if not any(cell.strip() for cell in cells):
            continue  # empty line, or Excel's row of bare delimiters
        raw: dict[str, str] = {}
        for index, field in columns:
            value = _unescape(cells[index].strip()) if index < len(cells) else ""
            if value and field not in raw:  # of two columns for one field (走失日期, 失踪日期) the first filled wins
                raw[field] = value
        yield build_row(line, raw, zip_index)


def _cell(row: dict, column: str) -> str:
    if column == "photo_files":
        value = ";".join(row.get("photo_files") or [])
    elif column in EXTRA_FIELDS:
        value = (row.get("extra") or {}).get(column)
    else:
        value = row.get(column)
    if value is None:
        return ""
    return unformula(value.isoformat() if isinstance(value, date) else str(value))


def write_csv(rows: Iterable[dict], columns: Sequence[str] = CSV_COLUMNS) -> bytes:
    """Rows as CSV in UTF-8 with a BOM (so Excel shows Chinese), formula cells neutralised."""
    columns = [column for column in columns if column not in NEVER_EXPORTED]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([_cell(row, column) for column in columns] for row in rows)
    return out.getvalue().encode("utf-8-sig")
