"""Chinese resident identity numbers (GB 11643-1999): checksum, birth date, sex."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


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
