"""Sealed-object formats: v2 is what every writer writes, v1 opens forever.

Each tamper case gives the typed :class:`CryptoError`, never another exception or the
plaintext: a flipped byte in each part of both layouts, a wrong version, a cut, a
relabelling to the other version, a v2 object opened as another category or object.
"""

from __future__ import annotations

import struct

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lineguard.contracts.errors import CryptoError
from lineguard.crypto import DataKeyStore, Envelope, Keyring, dek_aad, parse_sealed
from lineguard.crypto.sealed import V2_PREFIX_BYTES, encode_header, encode_v2_prefix
from tests.support.sealed_v1 import seal_v1

SECRET = b"P-00012345"


@pytest.fixture
def env(keyring: Keyring, store: DataKeyStore) -> Envelope:
    return Envelope(keyring, store)


def _v1(
    env: Envelope, plaintext: bytes = SECRET, *, object_id: str = "node-a:evt_1", category: str = "c"
) -> bytes:
    return seal_v1(env.keys, env.store, plaintext, object_id=object_id, category=category)


def test_v2_layout_carries_only_the_key_id(env: Envelope, store: DataKeyStore) -> None:
    """magic ‖ 2 ‖ 16-byte key id ‖ nonce ‖ ciphertext ‖ tag; the record is not in it."""
    blob = env.seal(SECRET, object_id="node-a:evt_1", category="inspection_events")
    assert blob[:7] == b"LGSEAL\x02"
    assert len(blob) == 7 + 16 + 12 + len(SECRET) + 16
    parsed = parse_sealed(blob)
    assert (parsed.version, parsed.header) == (2, None)
    assert parsed.prefix == blob[:V2_PREFIX_BYTES] == encode_v2_prefix(parsed.key_id)
    assert blob[7:23].hex() == parsed.key_id.removeprefix("dek_")
    key = store.get(parsed.key_id)
    assert (key.category, key.object_id) == ("inspection_events", "node-a:evt_1")
    assert b"inspection_events" not in blob and b"evt_1" not in blob


def test_v2_is_about_130_bytes_shorter_than_v1_for_an_ingest_field(env: Envelope) -> None:
    object_id = "node-a:node-a:evt_0193a1b2c3d4e5f60718293a4b5c6d7e"
    v2 = env.seal(SECRET, object_id=object_id, category="inspection_events")
    v1 = _v1(env, object_id=object_id, category="inspection_events")
    assert len(v1) - len(v2) >= 130


def test_v1_and_v2_round_trip_side_by_side(env: Envelope) -> None:
    v1 = _v1(env, b"old", object_id="r1")
    v2 = env.seal(b"new", object_id="r2", category="c")
    assert parse_sealed(v1).version == 1 and parse_sealed(v2).version == 2
    assert env.open(v1, object_id="r1", category="c") == b"old"
    assert env.open(v2, object_id="r2", category="c") == b"new"


@pytest.mark.parametrize(("object_id", "category"), [("r2", "c"), ("r1", "d"), ("r1 ", "c"), ("R1", "c")])
def test_v2_opened_as_another_record_is_refused(env: Envelope, object_id: str, category: str) -> None:
    blob = env.seal(SECRET, object_id="r1", category="c")
    with pytest.raises(CryptoError, match=f"belongs to c/r1, expected {category}/{object_id}"):
        env.open(blob, object_id=object_id, category=category)


def test_v2_binds_the_record_in_the_associated_data(env: Envelope, store: DataKeyStore) -> None:
    """Even with the right data key in hand, the body authenticates only for its own record."""
    blob = env.seal(SECRET, object_id="r1", category="c")
    parsed = parse_sealed(blob)
    key = store.get(parsed.key_id)
    dek = env.keys.get(key.kek_id).unwrap(key.wrapped, dek_aad(key.key_id, "c", "r1"))
    assert AESGCM(dek).decrypt(parsed.nonce, parsed.body, parsed.aad("c", "r1")) == SECRET
    for category, object_id in (("c", "r2"), ("d", "r1"), ('c","object_id":"r1', "")):
        with pytest.raises(InvalidTag):
            AESGCM(dek).decrypt(parsed.nonce, parsed.body, parsed.aad(category, object_id))


def test_v1_opened_as_another_record_is_refused(env: Envelope) -> None:
    blob = _v1(env, object_id="r1")
    with pytest.raises(CryptoError, match="sealed object belongs to c/r1, expected c/r2"):
        env.open(blob, object_id="r2", category="c")


# v2 offsets: magic 0-5, version 6, key id 7-22, nonce 23-34, ciphertext 35-44, tag 45-60.
@pytest.mark.parametrize("position", [0, 5, 6, 7, 15, 22, 23, 34, 35, 44, -16, -1], ids=lambda p: f"byte{p}")
def test_a_flipped_byte_anywhere_in_v2_is_refused(env: Envelope, position: int) -> None:
    blob = bytearray(env.seal(SECRET, object_id="r1", category="c"))
    for flip in (0x01, 0x80):
        tampered = bytearray(blob)
        tampered[position] ^= flip
        with pytest.raises(CryptoError):
            env.open(bytes(tampered), object_id="r1", category="c")
    assert env.open(bytes(blob), object_id="r1", category="c") == SECRET


def test_a_flipped_byte_anywhere_in_v1_is_refused(env: Envelope) -> None:
    blob = _v1(env, object_id="r1")
    hlen = struct.unpack_from(">H", blob, 7)[0]
    header_end = 9 + hlen
    for position in (
        0,
        6,
        7,
        8,
        9,
        20,
        header_end - 1,
        header_end,
        header_end + 11,
        header_end + 12,
        -16,
        -1,
    ):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(CryptoError):
            env.open(bytes(tampered), object_id="r1", category="c")
    assert env.open(blob, object_id="r1", category="c") == SECRET


@pytest.mark.parametrize("version", [0, 3, 0x41, 255])
def test_an_unknown_version_is_refused(env: Envelope, version: int) -> None:
    blob = bytearray(env.seal(SECRET, object_id="r1", category="c"))
    blob[6] = version
    with pytest.raises(CryptoError, match=f"version {version} is not supported"):
        env.open(bytes(blob), object_id="r1", category="c")


def test_every_truncation_is_refused(env: Envelope) -> None:
    for blob in (env.seal(SECRET, object_id="r1", category="c"), _v1(env, object_id="r1")):
        for cut in range(len(blob)):
            with pytest.raises(CryptoError):
                env.open(blob[:cut], object_id="r1", category="c")


def test_relabelling_to_the_other_version_fails_authentication(env: Envelope) -> None:
    """The version byte is in the associated data of both formats: same key, same record,
    same nonce and body, the other layout in front, and the tag refuses it."""
    v2 = parse_sealed(env.seal(SECRET, object_id="r1", category="c"))
    as_v1 = encode_header(v2.key_id, "c", "r1") + v2.nonce + v2.body
    with pytest.raises(CryptoError, match="failed authentication"):
        env.open(as_v1, object_id="r1", category="c")
    v1 = parse_sealed(_v1(env, object_id="r1"))
    as_v2 = encode_v2_prefix(v1.key_id) + v1.nonce + v1.body
    with pytest.raises(CryptoError, match="failed authentication"):
        env.open(as_v2, object_id="r1", category="c")


def test_shredding_makes_both_versions_unreadable(env: Envelope) -> None:
    v1 = _v1(env, object_id="r1")
    v2 = env.seal(SECRET, object_id="r1", category="c")
    assert env.open(v1, object_id="r1", category="c") == env.open(v2, object_id="r1", category="c")
    assert env.shred(object_id="r1", category="c") == 2
    for blob in (v1, v2):
        with pytest.raises(CryptoError, match="crypto-shredded"):
            env.open(blob, object_id="r1", category="c")


@pytest.mark.parametrize(
    "bad",
    [
        "dek_" + "A" * 32,
        "dek_" + "a" * 30,
        "dek_" + "a" * 34,
        "evt_" + "a" * 32,
        "dek_" + "g" * 32,
        "dek_evil",
        "dek_" + "0a" * 15 + " 0a",
    ],
)
def test_v2_writes_only_uuid_key_ids(bad: str) -> None:
    with pytest.raises(CryptoError, match="lowercase hex digits"):
        encode_v2_prefix(bad)


def test_parse_reports_what_is_wrong() -> None:
    with pytest.raises(CryptoError, match="shorter than the 7-byte magic and version"):
        parse_sealed(b"LGSEA")
    with pytest.raises(CryptoError, match="magic is b'XXSEAL'"):
        parse_sealed(b"XXSEAL\x02" + bytes(60))
    with pytest.raises(CryptoError, match="a version-2 object has at least 51"):
        parse_sealed(b"LGSEAL\x02" + bytes(43))
