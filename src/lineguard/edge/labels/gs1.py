"""GS1 element strings: the application identifiers a label's code carries, parsed and checked.

A GS1 DataMatrix, GS1-128 or GS1 QR code carries an *element string*: application
identifiers (AIs) each followed by its data. zxing-cpp gives it in human-readable form,
``(01)09501101530003(10)LOT42(17)270131(30)12``; a reader set to plain text gives the raw
form, where a variable-length field ends at a group separator (``\\x1d``) and ``]d2`` /
``]C1`` / ``]Q3`` may lead. Both parse here to the same :class:`Gs1Fields`.

Only the AIs a label check compares are interpreted; any other AI is kept verbatim in
``other`` (so a label with an extra AI still parses), and an AI outside GS1's table is
refused rather than guessed at, because a wrong split would move characters from one field
into the next. Checked: the GTIN's mod-10 check digit, dates that exist (``DD`` = 00 means
the month's last day, as GS1 says), and a quantity of digits only. Every failure raises
:class:`Gs1Error` naming the field.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from lineguard.config.labels import gtin_check_digit
from lineguard.contracts.errors import InputError

__all__ = ["GS", "Gs1Error", "Gs1Fields", "parse_element_string"]

#: Group separator (FNC1 inside a raw element string): ends a variable-length field.
GS = "\x1d"
_SYMBOLOGY_PREFIX = re.compile(r"^\][A-Za-z][0-9]")
_HRI = re.compile(r"\((\d{2,4})\)")

#: AI → (fixed data length or None for variable, maximum length, field name).
_AIS: dict[str, tuple[int | None, int, str]] = {
    "00": (18, 18, "sscc"),
    "01": (14, 14, "gtin"),
    "02": (14, 14, "content_gtin"),
    "10": (None, 20, "lot"),
    "11": (6, 6, "production_date"),
    "13": (6, 6, "packaging_date"),
    "15": (6, 6, "best_before_date"),
    "17": (6, 6, "expiry_date"),
    "21": (None, 20, "serial"),
    "240": (None, 30, "additional_id"),
    "241": (None, 30, "customer_part_number"),
    "30": (None, 8, "quantity"),
    "37": (None, 8, "count"),
    "400": (None, 30, "order_number"),
}
_DATE_AIS = {"11", "13", "15", "17"}
_GS1_CHARS = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]*$")  # GS1 AI encodable character set 82


class Gs1Error(InputError):
    """An element string that is not valid GS1; ``field`` names the AI that is wrong."""

    code = "gs1_invalid"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message, details=[f"field: {field}"])
        self.field = field


@dataclass(frozen=True)
class Gs1Fields:
    """The interpreted AIs of one element string (None: the code does not carry it)."""

    gtin: str | None = None
    lot: str | None = None
    production_date: dt.date | None = None
    expiry_date: dt.date | None = None
    quantity: int | None = None
    other: dict[str, str] = field(default_factory=dict)


def _date(ai: str, value: str) -> dt.date:
    name = _AIS[ai][2]
    if not value.isdigit():
        msg = f"({ai}) {name}: expected YYMMDD digits, got {value!r}"
        raise Gs1Error(msg, field=name)
    yy, mm, dd = int(value[:2]), int(value[2:4]), int(value[4:])
    # GS1 General Specifications 7.12: a two-digit year within -49..+50 years of today.
    this_year = dt.datetime.now(dt.UTC).year
    year = this_year - this_year % 100 + yy
    if year - this_year > 50:
        year -= 100
    elif this_year - year > 49:
        year += 100
    if not 1 <= mm <= 12:
        msg = f"({ai}) {name}: month {mm:02d} does not exist in {value!r}"
        raise Gs1Error(msg, field=name)
    last = calendar.monthrange(year, mm)[1]
    if dd == 0:
        dd = last
    if dd > last:
        msg = f"({ai}) {name}: day {dd:02d} does not exist in {year}-{mm:02d}"
        raise Gs1Error(msg, field=name)
    return dt.date(year, mm, dd)


def _split_hri(text: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    matches = list(_HRI.finditer(text))
    if not matches or matches[0].start() != 0:
        msg = f"not a GS1 element string: {text[:40]!r}"
        raise Gs1Error(msg, field="code")
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        pairs.append((match.group(1), text[match.end() : end]))
    return pairs


def _split_raw(text: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    rest = text.lstrip(GS)
    while rest:
        ai = next((rest[:n] for n in (2, 3, 4) if rest[:n] in _AIS), None)
        if ai is None:
            msg = f"unknown application identifier at {rest[:6]!r}"
            raise Gs1Error(msg, field="code")
        fixed, _, _ = _AIS[ai]
        rest = rest[len(ai) :]
        if fixed is not None:
            value, rest = rest[:fixed], rest[fixed:]
        else:
            value, _, rest = rest.partition(GS)
        pairs.append((ai, value))
        rest = rest.lstrip(GS)
    return pairs


def parse_element_string(text: str) -> Gs1Fields:
    """Parse a GS1 element string (human-readable ``(AI)`` or raw with ``\\x1d``) and check it."""
    body = _SYMBOLOGY_PREFIX.sub("", text)
    pairs = _split_hri(body) if body.startswith("(") else _split_raw(body)
    values: dict[str, Any] = {}
    other: dict[str, str] = {}
    for ai, value in pairs:
        if ai not in _AIS:
            msg = f"({ai}) is not an application identifier this reader knows"
            raise Gs1Error(msg, field="code")
        fixed, longest, name = _AIS[ai]
        if name in values or ai in other:
            msg = f"({ai}) {name} appears twice"
            raise Gs1Error(msg, field=name)
        if (fixed is not None and len(value) != fixed) or not 0 < len(value) <= longest:
            want = f"{fixed}" if fixed is not None else f"1 to {longest}"
            msg = f"({ai}) {name}: expected {want} characters, got {len(value)}"
            raise Gs1Error(msg, field=name)
        if not _GS1_CHARS.match(value):
            msg = f"({ai}) {name}: characters outside GS1's set in {value!r}"
            raise Gs1Error(msg, field=name)
        if ai == "01":
            if not value.isdigit():
                msg = f"(01) gtin: expected 14 digits, got {value!r}"
                raise Gs1Error(msg, field="gtin")
            want_digit = gtin_check_digit(value[:-1])
            if int(value[-1]) != want_digit:
                msg = f"(01) gtin {value}: check digit is {value[-1]}, the digits before it give {want_digit}"
                raise Gs1Error(
                    msg,
                    field="gtin",
                )
            values["gtin"] = value
        elif ai in {"11", "17"}:
            values[name] = _date(ai, value)
        elif ai == "10":
            values["lot"] = value
        elif ai == "30":
            if not value.isdigit():
                msg = f"(30) quantity: expected digits, got {value!r}"
                raise Gs1Error(msg, field="quantity")
            values["quantity"] = int(value)
        else:
            if ai in _DATE_AIS:
                _date(ai, value)
            other[ai] = value
    return Gs1Fields(**values, other=other)
