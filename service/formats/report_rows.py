"""Missing-person report files, the part shared by CSV and PFIF: a row's fields, checks and photos.

Pure: no Flask, no database. A row is a dict of GalleryReport fields with typed values, plus `extra`
(the extension fields PFIF lacks) and `photo_files` (names inside the accompanying photo zip).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..domain.errors import InvalidValue
from .fields import REPORT_FIELDS
from .values import AgeRange, Choice, Text, Whole, show

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
RECORD_DOMAIN = "huijia.example"  # PFIF record ids are "domain/unique"; used for rows without external_id
RECORD_KINDS = ("report", "case")
NOTE_STATUSES = ("information_sought", "is_note_author", "believed_alive", "believed_missing", "believed_dead")
NEVER_EXPORTED = frozenset({"id_number"})  # resident ID numbers never leave the system in a file


class FormatError(InvalidValue):
    """The file as a whole cannot be read (not CSV/PFIF, unsafe XML, too large, no known columns)."""

    def __init__(self, message: str):
        super().__init__(message, "file")


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """One report read from a file: `fields` when valid, else `error`; `line` is 1-based in the file."""

    line: int
    fields: dict | None
    error: str | None


# Each report field has its converter in fields.REPORT_FIELDS; these are the extension fields.
EXTRA_FIELDS = {
    "est_age_min": Whole(0, 120),
    "est_age_max": Whole(0, 120),
    "mental_state": Text(4000),
    "dialect": Text(200),
    "clothing": Text(4000),
    "found_place": Text(200),
    "height_cm": Whole(30, 250),
    # From PFIF fields our model lacks; kept so an export gives them back.
    "birth_year": Whole(1880, 2100),
    "source_name": Text(200),
    "photo_url": Text(2000),
    "note_status": Choice(NOTE_STATUSES),
}
_EST_AGE = AgeRange()

# CSV header aliases: our field names plus common Chinese headers (two pseudo-fields: est_age, photo_files).
_ALIASES = {
    "name": ("姓名", "名字"),
    "gender": ("sex", "性别"),
    "birth_date": ("date_of_birth", "出生日期"),
    "age_at_missing": ("age", "走失时年龄", "失踪时年龄", "年龄"),
    "missing_since": ("走失日期", "失踪日期", "走失时间", "失踪时间"),
    "missing_place": ("走失地点", "失踪地点"),
    "hometown": ("户籍地", "籍贯"),
    "marks": ("体貌特征", "特征"),
    "description": ("情况描述", "描述"),
    "contact_name": ("联系人",),
    "contact_phone": ("联系电话", "电话"),
    "source": ("来源",),
    "external_id": ("编号", "寻人编号"),
    "photo_files": ("photos", "photo", "照片"),
    "est_age": ("估计年龄",),
    "est_age_min": (),
    "est_age_max": (),
    "mental_state": ("精神状况", "精神状态"),
    "dialect": ("口音", "方言"),
    "clothing": ("衣着", "穿着"),
    "found_place": ("发现地点",),
    "height_cm": ("height", "身高"),
    "birth_year": ("出生年份",),
    "source_name": (),
    "photo_url": (),
    "note_status": (),
}
HEADER_ALIASES = {alias: field for field, aliases in _ALIASES.items() for alias in (field, *aliases)}

CSV_COLUMNS = ("external_id", "name", "gender", "birth_date", "age_at_missing", "missing_since", "missing_place",
               "hometown", "marks", "description", "contact_name", "contact_phone", "source", "photo_files",
               *EXTRA_FIELDS)


# --- one row: raw text values → ParsedRow (shared by both formats) ---

def build_row(line: int, raw: dict, zip_index: dict | None) -> ParsedRow:
    """Convert and check one row's raw values; every problem of the row goes into one error."""
    fields: dict = {"extra": {}, "photo_files": []}
    errors = []
    for field, value in raw.items():
        try:
            _put(fields, field, value, zip_index)
        except ValueError as exc:
            errors.append(f"{field}: {exc}")
    errors += _cross_checks(fields)
    if errors:
        return ParsedRow(line, None, "; ".join(errors))
    return ParsedRow(line, fields, None)


def _put(fields: dict, field: str, value, zip_index: dict | None) -> None:
    extra = fields["extra"]
    if field == "photo_files":
        files, urls = _split_photos(value, zip_index)
        fields["photo_files"] = files
        if urls:
            extra.setdefault("photo_url", ";".join(urls))
    elif field == "est_age":
        low, high = _EST_AGE(value)
        extra.setdefault("est_age_min", low)  # explicit min/max columns win over the combined one
        extra.setdefault("est_age_max", high)
    elif field in EXTRA_FIELDS:
        extra[field] = EXTRA_FIELDS[field](value)
    else:
        fields[field] = REPORT_FIELDS[field](value)


def _cross_checks(fields: dict) -> list[str]:
    extra = fields["extra"]
    errors = []
    if not (fields.get("name") or fields.get("description") or fields["photo_files"] or extra.get("photo_url")):
        errors.append("empty report: no name, no photo and no description")
    if extra.get("est_age_min", 0) > extra.get("est_age_max", 120):
        errors.append("est_age_min: greater than est_age_max")
    if fields.get("birth_date") and fields.get("missing_since") and fields["missing_since"] < fields["birth_date"]:
        errors.append("missing_since: before birth_date")
    return errors


def _split_photos(value: str | list[str], zip_index: dict | None) -> tuple[list[str], list[str]]:
    """Zip member names and http(s) URLs (kept as given, never fetched); names not in the zip are an error."""
    entries = value if isinstance(value, list) else re.split(r"[;|；]", value)
    files, urls, missing = [], [], []
    for entry in filter(None, (e.strip() for e in entries)):
        scheme = urlsplit(entry).scheme.lower()
        if scheme in ("http", "https"):
            urls.append(entry)
        elif len(scheme) > 1:  # one letter is a Windows drive (C:\photos\a.jpg), not a scheme
            raise ValueError(f"a photo must be a file in the zip or an http(s) URL (got {show(entry)})")
        elif zip_index is None:
            files.append(entry)
        elif member := zip_member(entry, zip_index):
            files.append(member)
        else:
            missing.append(entry)
    if missing:
        raise ValueError(f"not in the photo zip: {', '.join(missing)}")
    return files, urls


def basename(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def photo_index(photo_names: set[str] | None) -> dict[str, str] | None:
    """Zip member by full name or by unambiguous base name (files are often zipped inside a folder)."""
    if photo_names is None:
        return None
    index: dict[str, str] = {}
    for name in photo_names:
        base = basename(name)
        index[base] = name if index.get(base, name) == name else ""  # "" marks an ambiguous base name
    index.update((name, name) for name in photo_names)
    return index


def zip_member(name: str, zip_index: dict) -> str | None:
    return zip_index.get(name) or zip_index.get(basename(name)) or None


def unique_ids(rows: Iterable[ParsedRow]) -> Iterator[ParsedRow]:
    """A repeated external_id in one file is an error: a re-import must map each id to one report."""
    seen: dict[str, int] = {}
    for row in rows:
        external_id = row.fields and row.fields.get("external_id")
        if external_id and external_id in seen:
            row = ParsedRow(row.line, None, f"external_id: {show(external_id)} repeats line {seen[external_id]}")
        elif external_id:
            seen[external_id] = row.line
        yield row


# --- the file as a whole ---

_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a zip archive (an .xlsx workbook is one: save it as CSV)",
    b"\xd0\xcf\x11\xe0": "an old Office file (.xls): save it as CSV",
}


def binary_kind(data: bytes) -> str | None:
    """What a binary file looks like, or None for text (UTF-16 text has NULs, so its BOM is checked first)."""
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return kind
    if data[:2] not in (b"\xff\xfe", b"\xfe\xff") and b"\x00" in data[:65536]:
        return "a binary file"
    return None


def check_size(data: bytes) -> None:
    if len(data) > MAX_BYTES:
        raise FormatError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")


def detect_format(filename: str, data: bytes) -> str:
    """'pfif' when the content is XML, else 'csv', whatever the file is called; FormatError for a binary file."""
    head = data[:1024]
    codec = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    text = head.decode(codec, "ignore").lstrip("\ufeff \t\r\n")
    if text.startswith("<"):  # an XML prolog, a comment or the <pfif:pfif> root
        return "pfif"
    if kind := binary_kind(data):
        raise FormatError(f"{basename(filename) or 'the file'} is {kind}, not a CSV or PFIF file")
    return "csv"
