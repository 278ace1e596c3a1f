"""Chinese resident identity numbers (GB 11643-1999): checksum, birth date, sex."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")
# 15- or 18-character resident ID numbers (the last may be X), wherever a clerk typed one in free text.
ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
# What files and public notices write instead of such a number (views mask it instead, see mask_ids_in).
ID_REDACTED = "[ID removed]"


class InvalidIdNumber(ValueError):
    """The text is not a valid 18-character resident ID number."""


@dataclass(frozen=True)
class ResidentId:
    number: str
    region_code: str
    birth_date: date
    sex: str  # "male" | "female"

    @property
    def masked(self) -> str:
        """What staff see by default: region and last digit hidden behind stars."""
        return mask_id_number(self.number)


def check_digit(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS)) % 11]


def parse_id_number(raw: str) -> ResidentId:
    """Normalise and validate; raise InvalidIdNumber with the reason."""
    number = (raw or "").strip().upper().replace(" ", "")
    if not _SHAPE.match(number):
        raise InvalidIdNumber("must be 17 digits followed by a digit or X")
    if check_digit(number[:17]) != number[17]:
        raise InvalidIdNumber("checksum does not match (GB 11643)")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise InvalidIdNumber("birth date inside the number is not a real date") from exc
    if born.year < 1880 or born > date.today():
        raise InvalidIdNumber("birth date inside the number is out of range")
    sex = "male" if int(number[16]) % 2 == 1 else "female"
    return ResidentId(number=number, region_code=number[:6], birth_date=born, sex=sex)


def mask_id_number(number: str | None) -> str:
    if not number:
        return ""
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def scrub_ids(text: str) -> str:
    """`text` with every ID-shaped number removed (for files and public notices, which never reveal)."""
    return ID_SHAPED.sub(ID_REDACTED, text)


def mask_ids_in(value):
    """`value` with every ID-shaped number in its text masked as mask_id_number masks the structured one.

    Strings are masked; dicts (their values), lists and tuples are walked; anything else is returned as it is.
    """
    if isinstance(value, str):
        return ID_SHAPED.sub(lambda m: mask_id_number(m.group()), value)
    if isinstance(value, dict):
        return {key: mask_ids_in(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_ids_in(item) for item in value]
    if isinstance(value, tuple):
        return tuple(mask_ids_in(item) for item in value)
    return value


def has_id_in(value) -> bool:
    """Whether any text in `value` (walked like mask_ids_in) holds an ID-shaped number."""
    if isinstance(value, str):
        return ID_SHAPED.search(value) is not None
    if isinstance(value, dict):
        return any(has_id_in(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_id_in(item) for item in value)
    return False
