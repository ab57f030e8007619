"""Rotation: re-wrap every data key under the new KEK in batches while readers keep reading."""

from __future__ import annotations

import threading
from typing import cast

import pytest

from lineguard.contracts.errors import CryptoError
from lineguard.crypto import DataKeyStore, Envelope, Keyring, WrappedKey, dek_aad, rewrap_all


def test_rotate_rewrap_then_destroy_old_kek(keyring: Keyring, store: DataKeyStore) -> None:
    env = Envelope(keyring, store)
    sealed = {
        f"rec_{i}": env.seal(f"value {i}".encode(), object_id=f"rec_{i}", category="c") for i in range(25)
    }
    old_id = keyring.active_id
    new_id = keyring.rotate()
    seen: list[tuple[int, int]] = []
    report = rewrap_all(keyring, store, batch_size=10, progress=lambda d, t: seen.append((d, t)))
    assert (report.rewrapped, report.batches, report.remaining) == (25, 3, {})
    assert seen[-1] == (25, 25)
    assert store.count_by_kek() == {new_id: 25}
    keyring.destroy(old_id, min_retired_s=0)
    for object_id, blob in sealed.items():
        assert env.open(blob, object_id=object_id, category="c") == f"value {object_id[4:]}".encode()


def test_reads_and_writes_continue_during_rewrap(keyring: Keyring, store: DataKeyStore) -> None:
    env = Envelope(keyring, store)
    blobs = {f"r{i}": env.seal(b"payload", object_id=f"r{i}", category="c") for i in range(200)}
    keyring.rotate()
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                for object_id, blob in list(blobs.items())[::17]:
                    assert env.open(blob, object_id=object_id, category="c") == b"payload"
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        report = rewrap_all(keyring, store, batch_size=20)
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert report.rewrapped == 200
    assert report.remaining == {}


def test_shredded_during_rewrap_is_skipped_not_resurrected(keyring: Keyring, store: DataKeyStore) -> None:
    env = Envelope(keyring, store)
    env.seal(b"a", object_id="a", category="c")
    keyring.rotate()
    key = store.wrapped_under(list(store.count_by_kek()), 10)[0]
    env.shred(object_id="a", category="c")
    assert (
        store.rewrap(key.key_id, old_kek_id=key.kek_id, new_kek_id=keyring.active_id, wrapped=b"x") is False
    )
    with pytest.raises(CryptoError, match="crypto-shredded"):
        store.get(key.key_id)


class _CountingStore:
    """The real store, with a record of the ``after`` each rotation batch started from."""

    def __init__(self, inner: DataKeyStore) -> None:
        self.inner = inner
        self.starts: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def wrapped_under(self, kek_ids: list[str], limit: int, *, after: str = "") -> list[WrappedKey]:
        self.starts.append(after)
        return self.inner.wrapped_under(kek_ids, limit, after=after)


def test_rotation_walks_the_keys_once_in_key_id_order(keyring: Keyring, store: DataKeyStore) -> None:
    env = Envelope(keyring, store)
    env.seal_many([(f"r{i}", b"v") for i in range(25)], category="c")
    keyring.rotate()
    counting = _CountingStore(store)
    report = rewrap_all(keyring, cast(DataKeyStore, counting), batch_size=10)
    assert (report.rewrapped, report.batches, report.remaining) == (25, 3, {})
    ids = sorted(k.key_id for k in store.wrapped_under([keyring.active_id], 100))
    # each batch starts after the last key of the one before; the walk's end is checked once
    assert counting.starts == ["", ids[9], ids[19], ids[24]]


def test_a_key_written_behind_the_walk_under_the_old_kek_is_rewrapped_too(
    keyring: Keyring, store: DataKeyStore
) -> None:
    """A server that has not reloaded the keyring (or a replica whose clock is behind) may
    still wrap new keys under the old KEK, with key ids the walk has passed: after the
    walk the keys are counted again and a second walk takes them."""
    env = Envelope(keyring, store)
    env.seal_many([(f"r{i}", b"v") for i in range(20)], category="c")
    old = keyring.active()
    keyring.rotate()
    late_id = "dek_" + "0" * 32  # sorts before every key the walk has passed
    dek = bytes(range(32))

    def write_late(done: int, _total: int) -> None:
        if done == 10:
            aad = dek_aad(late_id, "c", "late")
            store.put(WrappedKey(late_id, "c", "late", old.kek_id, old.wrap(dek, aad)))

    report = rewrap_all(keyring, store, batch_size=10, progress=write_late)
    assert report.rewrapped == 21 and report.remaining == {}
    late = store.get(late_id)
    assert late.kek_id == keyring.active_id
    assert keyring.get(late.kek_id).unwrap(late.wrapped, dek_aad(late_id, "c", "late")) == dek
