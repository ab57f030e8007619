"""Envelope encryption: per-object keys, records bound to their ciphertext, crypto-shredding."""

from __future__ import annotations

import dataclasses
import logging
import struct
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lineguard.contracts.errors import CryptoError
from lineguard.contracts.ids import new_id
from lineguard.crypto import DataKeyStore, Envelope, Keyring, WrappedKey, parse_sealed
from lineguard.crypto.datakeys import wrapped_keys
from lineguard.crypto.envelope import _ID, _plain_ids
from lineguard.crypto.kek import KeyEncryptionKey, SoftwareKek
from lineguard.crypto.sealed import encode_v2_prefix

SECRET = b"supplier price 12.34 EUR per part"


@pytest.fixture
def env(keyring: Keyring, store: DataKeyStore) -> Envelope:
    return Envelope(keyring, store)


def test_round_trip_with_a_fresh_key_per_object(env: Envelope, store: DataKeyStore) -> None:
    a = env.seal(SECRET, object_id="rec_1", category="plant_data")
    b = env.seal(SECRET, object_id="rec_2", category="plant_data")
    assert SECRET not in a
    assert parse_sealed(a).key_id != parse_sealed(b).key_id
    assert env.open(a, object_id="rec_1", category="plant_data") == SECRET
    assert sum(store.count_by_kek().values()) == 2


def test_ciphertext_moved_to_another_record_is_refused(env: Envelope) -> None:
    sealed = env.seal(SECRET, object_id="rec_1", category="plant_data")
    with pytest.raises(CryptoError, match="belongs to plant_data/rec_1, expected plant_data/rec_2"):
        env.open(sealed, object_id="rec_2", category="plant_data")
    with pytest.raises(CryptoError, match="expected notes/rec_1"):
        env.open(sealed, object_id="rec_1", category="notes")


def test_forged_header_fails_authentication(env: Envelope) -> None:
    """Rewriting the header to name another record cannot get past the tag or the key binding."""
    sealed = env.seal(SECRET, object_id="rec_1", category="plant_data")
    other = env.seal(b"x", object_id="rec_2", category="plant_data")
    forged = parse_sealed(other).prefix + sealed[len(parse_sealed(sealed).prefix) :]
    with pytest.raises(CryptoError, match="failed authentication"):
        env.open(forged, object_id="rec_2", category="plant_data")


def test_wrapped_key_moved_between_rows_does_not_unwrap(env: Envelope, store: DataKeyStore) -> None:
    sealed = env.seal(SECRET, object_id="rec_1", category="c")
    parsed = parse_sealed(sealed)
    original = store.get(parsed.key_id)
    env.shred(object_id="rec_1", category="c")
    # An attacker re-inserts the wrapped key under another record's name, and points
    # the ciphertext at it: in the v2 layout (key id as 16 bytes) and the v1 one.
    evil = new_id("dek")
    store.put(WrappedKey(evil, "c", "rec_9", original.kek_id, original.wrapped))
    relabelled_v2 = encode_v2_prefix(evil) + parsed.nonce + parsed.body
    hdr = b'{"alg":"A256GCM","category":"c","key_id":"' + evil.encode() + b'","object_id":"rec_9"}'
    relabelled_v1 = b"LGSEAL\x01" + struct.pack(">H", len(hdr)) + hdr + parsed.nonce + parsed.body
    for relabelled in (relabelled_v2, relabelled_v1):
        with pytest.raises(CryptoError, match="cannot unwrap"):
            env.open(relabelled, object_id="rec_9", category="c")


@pytest.mark.parametrize("position", [0, 7, 20, -1, -20])
def test_any_flipped_byte_is_refused(env: Envelope, position: int) -> None:
    sealed = bytearray(env.seal(SECRET, object_id="rec_1", category="c"))
    sealed[position] ^= 0x01
    with pytest.raises(CryptoError):
        env.open(bytes(sealed), object_id="rec_1", category="c")


def test_truncated_is_refused(env: Envelope) -> None:
    sealed = env.seal(SECRET, object_id="rec_1", category="c")
    for cut in (0, 5, 30, len(sealed) - 1):
        with pytest.raises(CryptoError):
            env.open(sealed[:cut], object_id="rec_1", category="c")


def test_shredding_makes_every_copy_undecryptable(env: Envelope) -> None:
    sealed = env.seal(SECRET, object_id="rec_1", category="c")
    backup_copy = bytes(sealed)
    assert env.shred(object_id="rec_1", category="c") == 1
    with pytest.raises(CryptoError, match="crypto-shredded"):
        env.open(backup_copy, object_id="rec_1", category="c")
    assert env.shred(object_id="rec_1", category="c") == 0


@pytest.mark.parametrize("bad", ["", "has space", "x" * 300, "ünïcode"])
def test_ids_are_checked(env: Envelope, bad: str) -> None:
    with pytest.raises(CryptoError):
        env.seal(b"x", object_id=bad, category="c")


def test_plaintext_and_keys_never_logged(
    env: Envelope, keyring: Keyring, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sealed = env.seal(SECRET, object_id="rec_1", category="c")
    env.open(sealed, object_id="rec_1", category="c")
    keyring.rotate()
    assert SECRET.decode() not in caplog.text
    assert SECRET.decode() not in repr(env)
    key = env.store.get(parse_sealed(sealed).key_id)
    assert key.wrapped.hex() not in repr(key)


def test_batch_stores_keys_once_at_the_end(env: Envelope, store: DataKeyStore) -> None:
    with env.batch():
        blobs = [env.seal(b"v", object_id=f"r{i}", category="c") for i in range(5)]
        assert store.count_by_kek() == {}  # nothing written yet
        assert env.open(blobs[0], object_id="r0", category="c") == b"v"  # pending keys still open
        with env.batch():  # nested blocks join the outer one
            env.seal(b"w", object_id="r5", category="c")
    assert sum(store.count_by_kek().values()) == 6
    assert env.open(blobs[4], object_id="r4", category="c") == b"v"


def test_failed_batch_stores_no_keys(env: Envelope, store: DataKeyStore) -> None:
    class BoomError(Exception):
        pass

    with pytest.raises(BoomError), env.batch():
        env.seal(b"v", object_id="r1", category="c")
        raise BoomError
    assert store.count_by_kek() == {}


def test_put_many_is_all_or_nothing(env: Envelope, store: DataKeyStore) -> None:
    env.seal(b"v", object_id="r1", category="c")
    existing = next(iter(store.count_by_kek()))
    dup = store.wrapped_under([existing], 1)[0]
    fresh = WrappedKey("dek_new", "c", "r2", dup.kek_id, dup.wrapped)
    with pytest.raises(CryptoError, match="already exists"):
        store.put_many([fresh, dup])
    with pytest.raises(CryptoError, match="crypto-shredded"):
        store.get("dek_new")


def test_seal_many_gives_each_record_its_own_key_and_binding(env: Envelope, store: DataKeyStore) -> None:
    """Sealing a batch in one call is what one seal per record would give: a fresh data
    key, nonce and key id per object, each bound to its own record, the keys stored in
    one write."""
    items = [(f"node-a:evt_{i}", f"P-{i:04d}".encode()) for i in range(20)]
    blobs = env.seal_many(items, category="inspection_events")
    assert len(blobs) == 20
    assert len({parse_sealed(b).key_id for b in blobs}) == 20
    assert len({parse_sealed(b).nonce for b in blobs}) == 20
    assert sum(store.count_by_kek().values()) == 20
    for (object_id, plaintext), blob in zip(items, blobs, strict=True):
        key = store.get(parse_sealed(blob).key_id)
        assert (key.category, key.object_id) == ("inspection_events", object_id)
        assert env.open(blob, object_id=object_id, category="inspection_events") == plaintext
    with pytest.raises(CryptoError, match="expected inspection_events/node-a:evt_1"):
        env.open(blobs[0], object_id="node-a:evt_1", category="inspection_events")
    assert env.seal_many([], category="c") == []


def test_wrapped_keys_of_a_call_equal_constructed_ones_and_stay_frozen() -> None:
    """seal_many builds its records without the dataclass __init__ (its cost per key):
    they must be the same frozen, equal, hashable WrappedKey objects."""
    at = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)
    built = wrapped_keys(["dek_1", "dek_2"], "c", ["o1", "o2"], "kek_1", [b"w1", b"w2"], at)
    assert built == [
        WrappedKey("dek_1", "c", "o1", "kek_1", b"w1", at),
        WrappedKey("dek_2", "c", "o2", "kek_1", b"w2", at),
    ]
    assert [type(k) for k in built] == [WrappedKey, WrappedKey]
    assert hash(built[0]) == hash(WrappedKey("dek_1", "c", "o1", "kek_1", b"w1", at))
    assert dataclasses.asdict(built[1]) == {
        "key_id": "dek_2",
        "category": "c",
        "object_id": "o2",
        "kek_id": "kek_1",
        "wrapped": b"w2",
        "created_at": at,
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        built[0].object_id = "other"  # type: ignore[misc]
    with pytest.raises(ValueError, match="shorter"):
        wrapped_keys(["dek_1", "dek_2"], "c", ["o1"], "kek_1", [b"w1", b"w2"], at)
    assert "w1" not in repr(built[0])  # the wrapped key stays out of the repr


@pytest.mark.parametrize("position", [0, 7, 20, 60, -1, -20])
def test_a_flipped_byte_in_a_batch_sealed_object_is_refused(env: Envelope, position: int) -> None:
    blob = bytearray(env.seal_many([("rec_1", SECRET), ("rec_2", SECRET)], category="c")[1])
    blob[position] ^= 0x01
    with pytest.raises(CryptoError):
        env.open(bytes(blob), object_id="rec_2", category="c")


def test_seal_many_with_one_bad_id_seals_and_stores_nothing(env: Envelope, store: DataKeyStore) -> None:
    with pytest.raises(CryptoError, match="object_id must be"):
        env.seal_many([("rec_1", b"a"), ("has space", b"b")], category="c")
    with pytest.raises(CryptoError, match="category must be"):
        env.seal_many([("rec_1", b"a")], category="")
    assert store.count_by_kek() == {}


def test_seal_many_inside_a_batch_defers_its_keys(env: Envelope, store: DataKeyStore) -> None:
    with env.batch():
        blobs = env.seal_many([("r1", b"v"), ("r2", b"w")], category="c")
        assert store.count_by_kek() == {}
        assert env.open(blobs[1], object_id="r2", category="c") == b"w"
    assert sum(store.count_by_kek().values()) == 2


def test_kek_wrap_many_gives_each_key_its_own_nonce_and_binding(keyring: Keyring) -> None:
    kek = keyring.active()
    assert isinstance(kek, SoftwareKek)
    deks = [bytes([i]) * 32 for i in range(10)]
    aads = [f"record-{i}".encode() for i in range(10)]
    wrapped = kek.wrap_many(deks, aads)
    assert len({w[:12] for w in wrapped}) == 10  # a fresh nonce per wrap
    for dek, aad, blob in zip(deks, aads, wrapped, strict=True):
        assert kek.unwrap(blob, aad) == dek
    with pytest.raises(CryptoError, match="cannot unwrap"):
        kek.unwrap(wrapped[0], aads[1])
    with pytest.raises(CryptoError, match="2 keys and 1 associated data"):
        kek.wrap_many(deks[:2], aads[:1])


class _OneAtATime:
    """A KEK provider whose KEK wraps one key per call (as a PKCS#11 one does)."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def active(self) -> _OneAtATimeKek:
        return _OneAtATimeKek(self.keyring.active())

    def get(self, kek_id: str) -> KeyEncryptionKey:
        return self.keyring.get(kek_id)


class _OneAtATimeKek:
    def __init__(self, inner: KeyEncryptionKey) -> None:
        self.inner = inner
        self.kek_id = inner.kek_id

    def wrap(self, dek: bytes, aad: bytes) -> bytes:
        return self.inner.wrap(dek, aad)

    def wrap_many(self, deks: Sequence[bytes], aads: Sequence[bytes]) -> list[bytes]:
        return [self.wrap(dek, aad) for dek, aad in zip(deks, aads, strict=True)]

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        return self.inner.unwrap(wrapped, aad)


def test_seal_many_with_a_kek_that_wraps_one_at_a_time(keyring: Keyring, store: DataKeyStore) -> None:
    env = Envelope(_OneAtATime(keyring), store)
    blobs = env.seal_many([("r1", b"a"), ("r2", b"b")], category="c")
    assert Envelope(keyring, store).open(blobs[1], object_id="r2", category="c") == b"b"


#: Ids near every edge of the rule: empty, 256 and 257 characters, a bucket's mark, a
#: newline (the separator of the one-match check) and characters outside the class.
_ID_PIECES = st.sampled_from(["a", "Z9", "_.:/-", "#", "\n", " ", "é", "x" * 255, ""])


@given(ids=st.lists(st.lists(_ID_PIECES, max_size=4).map("".join), min_size=1, max_size=6))
def test_ids_checked_together_as_one_by_one(ids: list[str]) -> None:
    # The batch check (one match over the ids joined by newlines) decides exactly as the
    # pattern of one id and the bucket mark do, id by id: a newline inside an id must not
    # split it into two good ones.
    one_by_one = all(_ID.fullmatch(i) is not None and not i.startswith("#") for i in ids)
    assert _plain_ids(ids) is one_by_one


@pytest.mark.parametrize("bad", ["rec_1\nrec_2", "rec_1\n", "\nrec_1", "x" * 257])
def test_an_id_the_joined_check_could_misread_is_refused_as_before(env: Envelope, bad: str) -> None:
    with pytest.raises(CryptoError, match="object_id must be 1-256 characters"):
        env.seal_many([("rec_0", b"a"), (bad, b"b")], category="c")
    bucketed = Envelope(env.keys, env.store, bucketed=["c"])
    with pytest.raises(CryptoError, match="object_id must be 1-256 characters"):
        bucketed.seal_in_buckets([("rec_0", "#h/1", b"a"), (bad, "#h/1", b"b")], category="c")
