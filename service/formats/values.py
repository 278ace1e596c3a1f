"""Value converters: one contract for intake forms, API bodies and imported files.

A converter is called with a value that is not blank (text from a form or a file cell, or a JSON value)
and returns the typed value, or raises ValueError with the reason; the caller names the field (an
InvalidValue for a request, a row error for a file). Each converter also describes itself as an OpenAPI
schema, so the API description is derived from what the code checks (api/openapi.py).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timezone

from ..domain.deadlines import CHINA_TZ
from ..domain.errors import InvalidValue
from ..domain.identity import InvalidIdNumber, parse_id_number


def show(value) -> str:
    """A refused value quoted in an error, cut short."""
    text = str(value)
    return repr(text if len(text) <= 30 else text[:30] + "…")


class Converter:
    """Base: `description` goes into the OpenAPI schema."""

    def __init__(self, description: str | None = None):
        self.description = description

    def __call__(self, value):
        raise NotImplementedError

    def empty(self):
        """The value of a blank text."""
        return None

    def _schema(self) -> dict:
        raise NotImplementedError

    def schema(self) -> dict:
        """The JSON schema of an accepted value (OpenAPI 3.0 subset)."""
        return {**self._schema(), **({"description": self.description} if self.description else {})}


class Text(Converter):
    """Text of at most `limit` characters; with `cut`, longer text is kept to its first `limit` instead of refused."""

    def __init__(self, limit: int, description: str | None = None, cut: bool = False):
        if cut:
            description = "; ".join(filter(None, (description, f"longer text is cut to {limit} characters")))
        super().__init__(description)
        self.limit, self.cut = limit, cut

    def __call__(self, value) -> str:
        if isinstance(value, (dict, list, tuple, set)):
            raise ValueError("must be text")
        text = str(value).strip()
        if len(text) > self.limit:
            if not self.cut:
                raise ValueError(f"longer than {self.limit} characters")
            text = text[:self.limit]
        return text

    def _schema(self) -> dict:
        return {"type": "string"} if self.cut else {"type": "string", "maxLength": self.limit}


# Clerks type units ("35岁", "170cm"); Excel turns whole numbers into "35.0".
_WHOLE = re.compile(r"(\d{1,4})(?:\.0+)?\s*(?:岁|周岁|cm|厘米|公分)?", re.IGNORECASE)


class Whole(Converter):
    def __init__(self, lo: int, hi: int, description: str | None = None):
        super().__init__(description)
        self.lo, self.hi = lo, hi

    def __call__(self, value) -> int:
        number = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and (match := _WHOLE.fullmatch(value.strip())):
            number = int(match[1])
        if number is None or not self.lo <= number <= self.hi:
            raise ValueError(f"must be a whole number from {self.lo} to {self.hi} (got {show(value)})")
        return number

    def _schema(self) -> dict:
        return {"type": "integer", "minimum": self.lo, "maximum": self.hi}


class Number(Converter):
    def __init__(self, lo: float, hi: float, description: str | None = None):
        super().__init__(description)
        self.lo, self.hi = lo, hi

    def __call__(self, value) -> float:
        try:
            number = None if isinstance(value, bool) else float(str(value).strip())
        except ValueError:
            number = None
        if number is None or not self.lo <= number <= self.hi:  # NaN fails the range too
            raise ValueError(f"must be a number from {self.lo} to {self.hi} (got {show(value)})")
        return number

    def _schema(self) -> dict:
        return {"type": "number", "minimum": self.lo, "maximum": self.hi}


class Choice(Converter):
    """One of `values`; `aliases` maps other spellings (lower case: 男, m, 家属...) to a value."""

    def __init__(self, values, aliases: Mapping[str, str] | None = None, description: str | None = None):
        super().__init__(description)
        self.values = tuple(values)
        self.lookup = {**{v.lower(): v for v in self.values}, **(aliases or {})}

    def __call__(self, value) -> str:
        text = str(value).strip()
        if text in self.values:
            return text
        try:
            return self.lookup[text.lower()]
        except KeyError:
            raise ValueError(f"must be one of {', '.join(self.values)} (got {show(text)})") from None

    def _schema(self) -> dict:
        return {"type": "string", "enum": list(self.values)}


class Tags(Converter):
    """Any of `values`, as a list or a comma-separated text; returned in the order of `values`."""

    def __init__(self, values, description: str | None = None):
        super().__init__(description)
        self.values = tuple(values)

    def empty(self) -> list:
        return []

    def __call__(self, value) -> list[str]:
        if isinstance(value, str):
            items = [v.strip() for v in value.replace(";", ",").split(",")]
        elif isinstance(value, (list, tuple)):
            items = [str(v).strip() for v in value]
        else:
            raise ValueError("must be a list")
        items = [v for v in items if v]
        unknown = sorted(set(items) - set(self.values))
        if unknown:
            raise ValueError(f"unknown: {', '.join(unknown)} (one of {', '.join(self.values)})")
        return [v for v in self.values if v in items]

    def _schema(self) -> dict:
        return {"type": "array", "items": {"type": "string", "enum": list(self.values)}}


_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?"  # Excel adds " 0:00"
    r"|(\d{4})(\d{2})(\d{2})"
)


class Day(Converter):
    """A calendar date: 2026-01-31, 2026/1/31, 2026年1月31日, 20260131; from `earliest` to `latest` (default today)."""

    def __init__(self, earliest: date = date(1880, 1, 1), latest: date | None = None, description: str | None = None):
        super().__init__(description)
        self.earliest, self.latest = earliest, latest

    def __call__(self, value) -> date:
        if isinstance(value, date) and not isinstance(value, datetime):
            parsed = value
        else:
            match = _DATE.fullmatch(str(value).strip())
            try:
                year, month, day = (int(part) for part in match.groups() if part is not None)
                parsed = date(year, month, day)
            except (AttributeError, ValueError):
                raise ValueError(f"not a date like 2026-01-31 or 2026年1月31日 (got {show(value)})") from None
        if not self.earliest <= parsed <= (self.latest or date.today()):
            raise ValueError(f"date is out of range (got {show(value)})")
        return parsed

    def _schema(self) -> dict:
        return {"type": "string", "format": "date"}


class Timestamp(Converter):
    """ISO 8601; a time without offset is Beijing time (what a clerk types in a form); returned in UTC."""

    def __call__(self, value) -> datetime:
        if isinstance(value, datetime):
            parsed = value
        else:
            try:
                parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"must be a time like 2026-11-23T08:30:00+08:00 (got {show(value)})") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=CHINA_TZ)  # a time typed without an offset is Beijing time
        try:
            parsed = parsed.astimezone(timezone.utc)
        except OverflowError:  # year 1 or 9999 with an offset falls off the calendar
            raise ValueError("time is out of range") from None
        if parsed.year < 1900 or parsed > datetime.now(timezone.utc).replace(year=datetime.now().year + 1):
            raise ValueError("time is out of range")
        return parsed

    def _schema(self) -> dict:
        return {"type": "string", "format": "date-time"}


class Flag(Converter):
    def __call__(self, value) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on", "y"}:
            return True
        if text in {"0", "false", "no", "off", "n"}:
            return False
        raise ValueError("must be true or false")

    def _schema(self) -> dict:
        return {"type": "boolean"}


class IdNumber(Converter):
    """An 18-character resident ID number with a valid GB 11643 check digit."""

    def __init__(self, description: str | None = "18-character resident ID (GB 11643 checksum)"):
        super().__init__(description)

    def __call__(self, value) -> str | None:
        text = str(value).strip()
        if not text:
            return None
        try:
            return parse_id_number(text).number
        except InvalidIdNumber as exc:
            raise ValueError(f"resident ID number is not valid: {exc}") from exc

    def _schema(self) -> dict:
        return {"type": "string"}


_AGE_RANGE = re.compile(r"(?:约|大约)?\s*(\d{1,3})\s*(?:岁)?\s*(?:[-~～至到—–－]\s*(\d{1,3}))?\s*(?:岁|周岁)?\s*(?:左右)?")


class AgeRange(Converter):
    """An estimated age "30-40", "30至40岁" or "约40岁" as (min, max)."""

    def __call__(self, value) -> tuple[int, int]:
        match = _AGE_RANGE.fullmatch(str(value).strip())
        if not match:
            raise ValueError(f"not an age or an age range like 30-40 (got {show(value)})")
        low, high = int(match[1]), int(match[2] or match[1])
        if not 0 <= low <= high <= 120:
            raise ValueError(f"must be a range within 0-120 (got {show(value)})")
        return low, high

    def _schema(self) -> dict:
        return {"type": "string", "pattern": r"^\d{1,3}(-\d{1,3})?$"}


Fields = Mapping[str, Converter]


def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_fields(fields: Fields, raw: Mapping) -> dict:
    """Typed values of the known fields present in `raw` (a form or a JSON body); others are ignored.

    None stays None, a blank text is the field's empty value (None, or [] for a list); a refused value
    raises InvalidValue with the field's name.
    """
    values = {}
    for name, value in raw.items():
        convert = fields.get(name)
        if convert is None:
            continue
        if is_blank(value):
            values[name] = None if value is None else convert.empty()
            continue
        try:
            values[name] = convert(value)
        except ValueError as exc:
            raise InvalidValue(str(exc), name) from exc
    return values


def properties(fields: Fields) -> dict:
    """The OpenAPI `properties` of an object made of these fields."""
    return {name: convert.schema() for name, convert in fields.items()}
