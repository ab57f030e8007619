from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lineguard.contracts.errors import InputError
from lineguard.crypto import b64d, b64e, canonical_json
from lineguard.crypto.canonical import canonical_strings
from lineguard.crypto.datakeys import dek_aad, dek_aads
from lineguard.crypto.sealed import V2_AAD_END, encode_header, record_binding, v2_aad, v2_aad_head


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


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30), st.text(max_size=30), st.text(max_size=30))
def test_sealed_header_and_key_aad_are_the_canonical_json_of_their_fields(
    key_id: str, category: str, object_id: str
) -> None:
    """Both are formatted directly (every sealed field builds one) and must stay the
    canonical JSON that existing ciphertexts and wrapped keys were bound to."""
    try:
        header = canonical_strings(
            {"alg": "A256GCM", "category": category, "key_id": key_id, "object_id": object_id}
        )
        aad = canonical_strings({"key_id": key_id, "category": category, "object_id": object_id})
    except UnicodeEncodeError:
        return  # lone surrogates have no UTF-8 form at all
    if len(header) <= 2048:
        prefix = b"LGSEAL\x01" + struct.pack(">H", len(header))
        assert encode_header(key_id, category, object_id) == prefix + header
    assert dek_aad(key_id, category, object_id) == b"lineguard/dek/v1|" + aad


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=30),
    st.lists(st.tuples(st.text(max_size=30), st.text(max_size=30)), max_size=5),
)
def test_key_aads_of_one_call_are_each_the_single_key_aad(
    category: str, pairs: list[tuple[str, str]]
) -> None:
    """seal_many builds a call's wrap AADs with dek_aads: byte-for-byte dek_aad's."""
    key_ids, object_ids = [k for k, _ in pairs], [o for _, o in pairs]
    try:
        expected = [dek_aad(k, category, o) for k, o in pairs]
    except UnicodeEncodeError:
        return  # lone surrogates have no UTF-8 form at all
    assert dek_aads(key_ids, category, object_ids) == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=23, max_size=23), st.text(max_size=30), st.text(max_size=30))
def test_sealed_v2_associated_data_is_the_prefix_and_the_canonical_json_of_the_record(
    prefix: bytes, category: str, object_id: str
) -> None:
    """Formatted directly (every sealed field builds one): must stay the bytes every v2
    object was bound to."""
    try:
        record = canonical_strings({"category": category, "object_id": object_id})
    except UnicodeEncodeError:
        return
    assert v2_aad(prefix, record_binding(category), object_id) == prefix + record


#: Record ids as the envelope accepts them (its ``_ID``): nothing in them JSON escapes.
VALID_ID = st.from_regex(r"[A-Za-z0-9_.:/#-]{1,256}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=23, max_size=23), st.text(max_size=30), VALID_ID)
def test_the_v2_head_and_a_valid_id_make_the_same_associated_data(
    prefix: bytes, category: str, object_id: str
) -> None:
    """A batch under one bucket key builds each record's associated data from the head
    (envelope.seal_in_buckets): the same bytes as v2_aad, which opening uses."""
    try:
        binding = record_binding(category)
        expected = v2_aad(prefix, binding, object_id)
    except UnicodeEncodeError:
        return
    assert v2_aad_head(prefix, binding) + object_id.encode() + V2_AAD_END == expected
