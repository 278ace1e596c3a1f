"""Missing-person reports and cases as PFIF 1.4 XML (read 1.2-1.4), with our hj: extension elements."""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timezone
from functools import partial
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError, TreeBuilder
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from .report_rows import (MAX_ROWS, RECORD_DOMAIN, RECORD_KINDS, FormatError, ParsedRow, build_row, check_size,
                          photo_index, unique_ids, zip_member)

PFIF_NS = "http://zesty.ca/pfif/1.4"
PFIF_NAMESPACES = ("http://zesty.ca/pfif/1.4", "http://zesty.ca/pfif/1.3", "http://zesty.ca/pfif/1.2")
EXT_NS = "https://huijia.example/pfif-ext/1"
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
    check_size(data)
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
    zip_index = photo_index(photo_names)
    return unique_ids(
        build_row(lines.get(person, ordinal), _person_raw(person, ns, statuses, zip_index), zip_index)
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
    member = zip_member(photo_url, zip_index) if relative and zip_index is not None else None
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
