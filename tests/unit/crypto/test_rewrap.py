"""Rotation: re-wrap every data key under the new KEK in batches while readers keep reading."""

from __future__ import annotations

import threading

import pytest

from lineguard.contracts.errors import CryptoError
from lineguard.crypto import DataKeyStore, Envelope, Keyring, rewrap_all


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
