"""GS1 element strings: both spellings parse alike, and every malformed field is named."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lineguard.config.labels import gtin_check_digit
from lineguard.edge.labels import Gs1Error, parse_element_string
from lineguard.edge.labels.gs1 import GS

GOOD = "(01)09501101530003(10)LOT42(17)270131(30)12"


def test_human_readable_and_raw_forms_give_the_same_fields() -> None:
    hri = parse_element_string(GOOD)
    raw = parse_element_string("]d2" + "0109501101530003" + "10LOT42" + GS + "17270131" + "3012")
    assert hri == raw
    assert hri.gtin == "09501101530003"
    assert hri.lot == "LOT42"
    assert hri.expiry_date == dt.date(2027, 1, 31)
    assert hri.production_date is None
    assert hri.quantity == 12


def test_day_zero_is_the_last_day_of_the_month() -> None:
    assert parse_element_string("(11)240200").production_date == dt.date(2024, 2, 29)


def test_other_known_ais_are_kept_verbatim() -> None:
    fields = parse_element_string("(01)09501101530003(21)SN-7(400)PO1234")
    assert fields.other == {"21": "SN-7", "400": "PO1234"}


@pytest.mark.parametrize(
    ("text", "field", "says"),
    [
        ("(01)09501101530004", "gtin", "check digit is 4, the digits before it give 3"),
        ("(01)0950110153000", "gtin", "expected 14 characters"),
        ("(01)0950110153000X", "gtin", "expected 14 digits"),
        ("(17)271331", "expiry_date", "month 13 does not exist"),
        ("(11)230229", "production_date", "day 29 does not exist in 2023-02"),
        ("(11)23O229", "production_date", "YYMMDD digits"),
        ("(30)12A", "quantity", "expected digits"),
        ("(10)" + "L" * 21, "lot", "1 to 20 characters"),
        ("(10)A(10)B", "lot", "appears twice"),
        ("(99)X", "code", "not an application identifier this reader knows"),
        ("(LOT42", "code", "not a GS1 element string"),
        ("9912345", "code", "unknown application identifier"),
        ("(10)LOT 42", "lot", "characters outside GS1's set"),
    ],
)
def test_malformed_fields_are_refused_naming_the_field(text: str, field: str, says: str) -> None:
    with pytest.raises(Gs1Error) as caught:
        parse_element_string(text)
    assert caught.value.field == field
    assert says in caught.value.message
    assert caught.value.code == "gs1_invalid"


def test_check_digit_matches_published_examples() -> None:
    # GS1's own examples: GTIN-13 4006381333931 and GTIN-14 09501101530003.
    assert gtin_check_digit("400638133393") == 1
    assert gtin_check_digit("0950110153000") == 3


@given(st.text(max_size=60))
def test_any_text_parses_or_raises_gs1_error(text: str) -> None:
    try:
        parse_element_string(text)
    except Gs1Error as exc:
        assert exc.field
