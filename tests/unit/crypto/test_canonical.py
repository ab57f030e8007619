from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from lineguard.contracts.errors import InputError
from lineguard.crypto import b64d, b64e, canonical_json


def test_keys_sorted_no_whitespace_utf8() -> None:
    assert canonical_json({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'.encode()


def test_datetimes_become_utc_text_whatever_their_offset() -> None:
    plus2 = timezone(timedelta(hours=2))
    moment = datetime(2026, 11, 22, 2, 0, 0, 5, tzinfo=plus2)
    assert canonical_json({"t": moment}) == b'{"t":"2026-11-22T00:00:00.000005Z"}'
    assert canonical_json({"t": moment}) == canonical_json({"t": moment.astimezone(UTC)})


@pytest.mark.parametrize("bad", [1.5, datetime(2026, 1, 1), 2**60, {1: "x"}, object()])
def test_values_without_a_canonical_form_are_refused(bad: object) -> None:
    with pytest.raises(InputError):
        canonical_json({"v": bad})


def test_base64url_round_trip_and_refusal() -> None:
    for data in (b"", b"\x00", b"\xff" * 31):
        assert b64d(b64e(data)) == data
    with pytest.raises(InputError):
        b64d("not base64!")
