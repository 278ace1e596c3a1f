"""Missing-person report files: read and write CSV and PFIF 1.4 rows (pure: no Flask, no database)."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import partial
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError, TreeBuilder
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from ..domain.errors import InvalidValue

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
PFIF_NS = "http://zesty.ca/pfif/1.4"
PFIF_NAMESPACES = ("http://zesty.ca/pfif/1.4", "http://zesty.ca/pfif/1.3", "http://zesty.ca/pfif/1.2")
EXT_NS = "https://huijia.example/pfif-ext/1"
RECORD_DOMAIN = "huijia.example"  # PFIF record ids are "domain/unique"; used for rows without external_id
RECORD_KINDS = ("report", "case")
NOTE_STATUSES = ("information_sought", "is_note_author", "believed_alive", "believed_missing", "believed_dead")
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
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


# --- value converters: text in, typed value out, ValueError(reason) when the value is refused ---

def _show(value: str) -> str:
    return repr(value if len(value) <= 30 else value[:30] + "…")


def _text(limit: int):
    def convert(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"longer than {limit} characters")
        return value

    return convert


def _int(lo: int, hi: int):
    def convert(value: str) -> int:
        # Clerks type units ("35岁", "170cm"); Excel turns whole numbers into "35.0".
        match = re.fullmatch(r"(\d{1,4})(?:\.0+)?\s*(?:岁|周岁|cm|厘米|公分)?", value, re.IGNORECASE)
        if not match or not lo <= int(match[1]) <= hi:
            raise ValueError(f"must be a whole number from {lo} to {hi} (got {_show(value)})")
        return int(match[1])

    return convert


def _choice(options: dict[str, str]):
    def convert(value: str) -> str:
        try:
            return options[value.lower()]
        except KeyError:
            raise ValueError(f"must be one of {', '.join(dict.fromkeys(options.values()))} "
                             f"(got {_show(value)})") from None

    return convert


_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?"  # Excel adds " 0:00"
    r"|(\d{4})(\d{2})(\d{2})"
)


def _date(value: str) -> date:
    match = _DATE.fullmatch(value)
    try:
        year, month, day = (int(part) for part in match.groups() if part is not None)
        parsed = date(year, month, day)
    except (AttributeError, ValueError):
        raise ValueError(f"not a date like 2026-01-31 or 2026年1月31日 (got {_show(value)})") from None
    if parsed.year < 1880 or parsed > date.today():
        raise ValueError(f"date is out of range (got {_show(value)})")
    return parsed


_EST_AGE = re.compile(r"(?:约|大约)?\s*(\d{1,3})\s*(?:岁)?\s*(?:[-~～至到—–－]\s*(\d{1,3}))?\s*(?:岁|周岁)?\s*(?:左右)?")


def _est_age(value: str) -> tuple[int, int]:
    """An estimated age "30-40", "30至40岁" or "约40岁" as (min, max)."""
    match = _EST_AGE.fullmatch(value)
    if not match:
        raise ValueError(f"not an age or an age range like 30-40 (got {_show(value)})")
    low, high = int(match[1]), int(match[2] or match[1])
    if not 0 <= low <= high <= 120:
        raise ValueError(f"must be a range within 0-120 (got {_show(value)})")
    return low, high


GENDERS = {"male": "male", "m": "male", "男": "male", "男性": "male",
           "female": "female", "f": "female", "女": "female", "女性": "female",
           # PFIF "other" has no place in our model: it is as good as unknown for matching.
           "unknown": "unknown", "u": "unknown", "未知": "unknown", "不详": "unknown", "other": "unknown"}
SOURCES = {"family": "family", "police": "police", "portal": "portal", "import": "import",
           "家属": "family", "家人": "family", "公安": "police", "警方": "police", "寻亲网": "portal", "导入": "import"}

# A row is a dict of GalleryReport fields with typed values, plus `extra` (the extension fields PFIF
# lacks) and `photo_files` (names inside the accompanying photo zip). Each field has its converter.
REPORT_FIELDS = {
    "name": _text(80),
    "gender": _choice(GENDERS),
    "birth_date": _date,
    "age_at_missing": _int(0, 120),
    "missing_since": _date,
    "missing_place": _text(200),
    "hometown": _text(200),
    "marks": _text(4000),
    "description": _text(4000),
    "contact_name": _text(80),
    "contact_phone": _text(40),
    "source": _choice(SOURCES),
    "external_id": _text(120),
}
EXTRA_FIELDS = {
    "est_age_min": _int(0, 120),
    "est_age_max": _int(0, 120),
    "mental_state": _text(4000),
    "dialect": _text(200),
    "clothing": _text(4000),
    "found_place": _text(200),
    "height_cm": _int(30, 250),
    # From PFIF fields our model lacks; kept so an export gives them back.
    "birth_year": _int(1880, 2100),
    "source_name": _text(200),
    "photo_url": _text(2000),
    "note_status": _choice({status: status for status in NOTE_STATUSES}),
}

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

def _build_row(line: int, raw: dict, zip_index: dict | None) -> ParsedRow:
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
        low, high = _est_age(value)
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
            raise ValueError(f"a photo must be a file in the zip or an http(s) URL (got {_show(entry)})")
        elif zip_index is None:
            files.append(entry)
        elif member := _zip_member(entry, zip_index):
            files.append(member)
        else:
            missing.append(entry)
    if missing:
        raise ValueError(f"not in the photo zip: {', '.join(missing)}")
    return files, urls


def _basename(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def _zip_index(photo_names: set[str] | None) -> dict[str, str] | None:
    """Zip member by full name or by unambiguous base name (files are often zipped inside a folder)."""
    if photo_names is None:
        return None
    index: dict[str, str] = {}
    for name in photo_names:
        base = _basename(name)
        index[base] = name if index.get(base, name) == name else ""  # "" marks an ambiguous base name
    index.update((name, name) for name in photo_names)
    return index


def _zip_member(name: str, zip_index: dict) -> str | None:
    return zip_index.get(name) or zip_index.get(_basename(name)) or None


def _unique_ids(rows: Iterable[ParsedRow]) -> Iterator[ParsedRow]:
    """A repeated external_id in one file is an error: a re-import must map each id to one report."""
    seen: dict[str, int] = {}
    for row in rows:
        external_id = row.fields and row.fields.get("external_id")
        if external_id and external_id in seen:
            row = ParsedRow(row.line, None, f"external_id: {_show(external_id)} repeats line {seen[external_id]}")
        elif external_id:
            seen[external_id] = row.line
        yield row


# --- CSV ---

_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a zip archive (an .xlsx workbook is one: save it as CSV)",
    b"\xd0\xcf\x11\xe0": "an old Office file (.xls): save it as CSV",
}


def _binary_kind(data: bytes) -> str | None:
    """What a binary file looks like, or None for text (UTF-16 text has NULs, so its BOM is checked first)."""
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return kind
    if data[:2] not in (b"\xff\xfe", b"\xfe\xff") and b"\x00" in data[:65536]:
        return "a binary file"
    return None


def _check_size(data: bytes) -> None:
    if len(data) > MAX_BYTES:
        raise FormatError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")


def _decode(data: bytes) -> str:
    """Text of a CSV file: UTF-16 by its BOM, else strict UTF-8 (BOM optional), else GB18030 (covers GBK)."""
    _check_size(data)
    if kind := _binary_kind(data):
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
    return _unique_ids(_csv_rows(records, columns, _zip_index(photo_names)))


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
        yield _build_row(line, raw, zip_index)


def _cell(row: dict, column: str) -> str:
    if column == "photo_files":
        value = ";".join(row.get("photo_files") or [])
    elif column in EXTRA_FIELDS:
        value = (row.get("extra") or {}).get(column)
    else:
        value = row.get(column)
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, date) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(rows: Iterable[dict], columns: Sequence[str] = CSV_COLUMNS) -> bytes:
    """Rows as CSV in UTF-8 with a BOM (so Excel shows Chinese), formula cells neutralised."""
    columns = [column for column in columns if column not in NEVER_EXPORTED]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([_cell(row, column) for column in columns] for row in rows)
    return out.getvalue().encode("utf-8-sig")


# --- PFIF ---

# Our extension elements inside <pfif:person>, all in EXT_NS (prefix hj:). photo_file: one per zip photo.
EXT_ELEMENTS = ("missing_since", "missing_place", "marks", "est_age_min", "est_age_max", "mental_state",
                "dialect", "clothing", "found_place", "height_cm", "source")


class _LineNumberingParser(DefusedXMLParser):
    """A defused parser (no DTD, no entities) that remembers each element's source line."""

    def __init__(self):
        super().__init__(target=TreeBuilder(), forbid_dtd=True)
        self.lines: dict[Element, int] = {}

    def _start(self, *args):
        # ElementTree keeps no line numbers; expat knows it while the start tag is being handled.
        element = super()._start(*args)
        self.lines[element] = self.parser.CurrentLineNumber
        return element


def _xml_input(data: bytes) -> bytes | str:
    # expat cannot decode GBK; a str is fed as UTF-8 whatever the prolog says.
    prolog = re.match(rb"\s*<\?xml[^>]*encoding=[\"'](gb2312|gbk|gb18030)[\"']", data, re.IGNORECASE)
    return data.decode("gb18030") if prolog else data


def _parse_xml(data: bytes) -> tuple[Element, dict[Element, int]]:
    _check_size(data)
    parser = _LineNumberingParser()
    try:
        parser.feed(_xml_input(data))
        root = parser.close()
    except DefusedXmlException as exc:
        # A DTD is how "billion laughs" and external-entity (file-reading) attacks start: refuse any.
        raise FormatError("the XML declares a DTD or entities, which are refused") from exc
    except (ParseError, UnicodeDecodeError) as exc:
        raise FormatError(f"this is not well-formed XML: {exc}") from exc
    return root, parser.lines


def _pfif_namespace(root: Element) -> str:
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if namespace not in PFIF_NAMESPACES or not root.tag.endswith("}pfif"):
        raise FormatError(f"this is not a PFIF 1.2-1.4 document (root element {root.tag[:80]})")
    return namespace


def _value(element: Element, namespace: str, name: str) -> str:
    return (element.findtext(f"{{{namespace}}}{name}") or "").strip()


def _note_statuses(root: Element, ns: str) -> dict[str, str]:
    """The latest note status by person_record_id, from notes inside a person or at the top level."""
    notes = [(_value(person, ns, "person_record_id"), note)
             for person in root.iterfind(f"{{{ns}}}person") for note in person.iterfind(f"{{{ns}}}note")]
    notes += [(_value(note, ns, "person_record_id"), note) for note in root.iterfind(f"{{{ns}}}note")]
    statuses = {}
    for person_id, note in sorted(notes, key=lambda item: _value(item[1], ns, "source_date")):
        if person_id and (status := _value(note, ns, "status")):
            statuses[person_id] = status
    return statuses


def parse_pfif(data: bytes, photo_names: set[str] | None = None) -> Iterator[ParsedRow]:
    """Reports from a PFIF 1.2-1.4 XML file; FormatError at once for unsafe or non-PFIF XML."""
    root, lines = _parse_xml(data)
    ns = _pfif_namespace(root)
    persons = root.findall(f"{{{ns}}}person")
    if len(persons) > MAX_ROWS:
        raise FormatError(f"the file has more than {MAX_ROWS} persons: split it")
    statuses = _note_statuses(root, ns)
    zip_index = _zip_index(photo_names)
    return _unique_ids(
        _build_row(lines.get(person, ordinal), _person_raw(person, ns, statuses, zip_index), zip_index)
        for ordinal, person in enumerate(persons, start=1)
    )


def _full_name(given: str, family: str) -> str:
    if re.search(r"[\u3400-\u9fff]", given + family):
        return family + given  # Chinese order, no space: 张 + 三 → 张三
    return " ".join(filter(None, (given, family)))


def _person_raw(person: Element, ns: str, statuses: dict[str, str], zip_index: dict | None) -> dict:
    """A <pfif:person> as raw text values under our field names."""
    value = partial(_value, person, ns)
    raw = {
        "external_id": value("person_record_id"),
        # 1.4 has given/family_name, 1.2 first/last_name; full_name is the reliable one since 1.3
        "name": value("full_name") or _full_name(value("given_name") or value("first_name"),
                                                 value("family_name") or value("last_name")),
        "gender": value("sex"),
        "hometown": ", ".join(filter(None, map(value, ("home_city", "home_state", "home_postal_code",
                                                       "home_country")))),
        "description": value("description"),
        "contact_name": value("author_name"),
        "contact_phone": value("author_phone"),
        "source_name": value("source_name"),
        "note_status": statuses.get(value("person_record_id"), ""),
    }
    birth = value("date_of_birth")
    if re.fullmatch(r"\d{4}(-\d{2})?", birth):  # a year, or a year and month: only the year is kept
        raw["birth_year"] = birth[:4]
    else:
        raw["birth_date"] = birth
    age = value("age")
    if match := re.fullmatch(r"(\d+)\s*-\s*(\d+)", age):
        raw["est_age_min"], raw["est_age_max"] = match[1], match[2]
    else:
        raw["age_at_missing"] = age
    raw.update((name, text) for name in EXT_ELEMENTS if (text := _value(person, EXT_NS, name)))
    raw["photo_files"] = [element.text or "" for element in person.iterfind(f"{{{EXT_NS}}}photo_file")]
    photo_url = value("photo_url")
    relative = photo_url and not urlsplit(photo_url).scheme
    member = _zip_member(photo_url, zip_index) if relative and zip_index is not None else None
    if member:
        raw["photo_files"].insert(0, member)
    else:
        raw["photo_url"] = photo_url  # a URL or a file we were not given: recorded, never fetched
    return {field: text for field, text in raw.items() if text}


def _xml_text(value) -> str:
    text = value.isoformat() if isinstance(value, date) else str(value)
    # Characters XML 1.0 cannot carry are dropped; a CR is kept as a reference (parsers turn a raw CR into LF).
    text = re.sub("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]", "", text)
    return escape(text, {"\r": "&#13;"})


def _element(prefix: str, name: str, value) -> str:
    return f"    <{prefix}:{name}>{_xml_text(value)}</{prefix}:{name}>"


def _person_xml(row: dict, kind: str, now: str) -> list[str]:
    extra = row.get("extra") or {}
    if not row.get("external_id") and row.get("id") is None:
        raise ValueError("a row needs external_id or id to be written as PFIF")
    record_id = row.get("external_id") or f"{RECORD_DOMAIN}/{kind}.{row['id']}"
    age = row.get("age_at_missing")
    if age is None and extra.get("est_age_min") is not None and extra.get("est_age_max") is not None:
        age = f"{extra['est_age_min']}-{extra['est_age_max']}"
    # In PFIF 1.4 element order; full_name is mandatory, so it is written even when empty.
    pfif = {
        "person_record_id": record_id,
        "author_name": row.get("contact_name"),
        "author_phone": row.get("contact_phone"),
        "source_name": extra.get("source_name"),
        "full_name": row.get("name") or "",
        "description": row.get("description"),
        "sex": row.get("gender") if row.get("gender") in ("male", "female") else None,
        "date_of_birth": row.get("birth_date") or extra.get("birth_year"),
        "age": age,
        "home_city": row.get("hometown"),
        "photo_url": extra.get("photo_url"),
    }
    ext = {name: row.get(name, extra.get(name)) for name in EXT_ELEMENTS}
    lines = ["  <pfif:person>"]
    lines += [_element("pfif", name, value) for name, value in pfif.items() if value is not None]
    lines += [_element("hj", name, value) for name, value in ext.items() if value is not None]
    lines += [_element("hj", "photo_file", name) for name in row.get("photo_files") or []]
    if status := extra.get("note_status"):
        lines += _status_note_xml(record_id, row.get("contact_name") or "Huijia", status, now)
    return lines + ["  </pfif:person>"]


def _status_note_xml(record_id: str, author: str, status: str, now: str) -> list[str]:
    """A minimal PFIF note carrying the person's status (note_record_id, author, date and text are mandatory)."""
    fields = {"note_record_id": f"{record_id}.status", "person_record_id": record_id, "author_name": author,
              "source_date": now, "status": status, "text": status}
    return ["    <pfif:note>", *("  " + _element("pfif", k, v) for k, v in fields.items()), "    </pfif:note>"]


def write_pfif(rows: Iterable[dict], *, kind: str = "report") -> bytes:
    """Rows as a PFIF 1.4 document with our hj: extension elements; `kind` names ids of rows without external_id."""
    if kind not in RECORD_KINDS:
        raise ValueError(f"kind must be one of {', '.join(RECORD_KINDS)}")
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<pfif:pfif xmlns:pfif="{PFIF_NS}" xmlns:hj="{EXT_NS}">']
    for row in rows:
        lines += _person_xml(row, kind, now)
    lines.append("</pfif:pfif>")
    return ("\n".join(lines) + "\n").encode("utf-8")


# --- format detection ---

def detect_format(filename: str, data: bytes) -> str:
    """'pfif' when the content is XML, else 'csv', whatever the file is called; FormatError for a binary file."""
    head = data[:1024]
    codec = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    text = head.decode(codec, "ignore").lstrip("\ufeff \t\r\n")
    if text.startswith("<"):  # an XML prolog, a comment or the <pfif:pfif> root
        return "pfif"
    if kind := _binary_kind(data):
        raise FormatError(f"{_basename(filename) or 'the file'} is {kind}, not a CSV or PFIF file")
    return "csv"
