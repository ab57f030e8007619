"""Bucket keys: one data key per bucket of records, every field still bound to its own record.

Each test runs on every data-key store: the edge's SQLite file, and the server's table
on SQLite and on the real PostgreSQL the suite starts.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lineguard.contracts.errors import CryptoError
from lineguard.crypto import DataKeyStore, Envelope, Keyring, SqliteDataKeyStore, rewrap_all
from lineguard.crypto.buckets import BucketKeyCache, bucket_key_id
from lineguard.crypto.sealed import V2_PREFIX_BYTES, parse_sealed

CAT = "inspection_events"
A = "#h/2026120713/plant-a/line-1"
B = "#h/2026120714/plant-a/line-1"


@pytest.fixture(params=["edge", "sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DataKeyStore]:
    """The edge's key file, and the server's table on SQLite and on PostgreSQL."""
    if request.param == "edge":
        store = SqliteDataKeyStore(tmp_path / "dk.db")
        yield store
        store.close()
        return
    from lineguard.server.keystore import SqlDataKeyStore
    from lineguard.server.storage import create_engine_for, session_factory
    from tests.conftest import _fresh_postgres_database

    if request.param == "sqlite":
        path = tmp_path / "lineguard.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_at_head"), path)
        urls: Iterator[str] = iter([f"sqlite:///{path}"])
    else:
        base = request.getfixturevalue("postgres_base_url")
        urls = _fresh_postgres_database(base, template=request.getfixturevalue("_postgres_at_head"))
    engine = create_engine_for(next(urls))
    yield SqlDataKeyStore(session_factory(engine))
    engine.dispose()
    next(urls, None)  # drops the PostgreSQL database


def _env(keyring: Keyring, store: DataKeyStore, **kw: object) -> Envelope:
    """An envelope with its own bucket-key cache (a worker or replica of its own)."""
    return Envelope(keyring, store, bucketed={CAT}, **kw)  # type: ignore[arg-type]


def _seal(env: Envelope, bucket: str, *keys: str) -> dict[str, bytes]:
    items = [(f"node-1:{k}", bucket, f"part-{k}".encode()) for k in keys]
    return dict(zip(keys, env.seal_in_buckets(items, category=CAT), strict=True))


def test_a_bucket_shares_one_key_and_each_record_opens(any_store: DataKeyStore, keyring: Keyring) -> None:
    env = _env(keyring, any_store)
    first = _seal(env, A, "k1", "k2", "k3") | _seal(env, B, "k4")
    later = _seal(env, A, "k5")  # another batch of the same bucket: the cached key
    assert any_store.count_by_kek() == {keyring.active_id: 2}
    ids = {k: parse_sealed(v).key_id for k, v in (first | later).items()}
    assert ids["k1"] == ids["k2"] == ids["k3"] == ids["k5"] == bucket_key_id(CAT, A) != ids["k4"]
    assert any_store.get(ids["k1"]).object_id == A
    nonces = {parse_sealed(v).nonce for v in (first | later).values()}
    assert len(nonces) == 5  # a random nonce per field
    reader = _env(keyring, any_store)  # a fresh process: nothing cached
    for k, sealed in (first | later).items():
        assert reader.open(sealed, object_id=f"node-1:{k}", category=CAT) == f"part-{k}".encode()


def test_concurrent_creators_converge_on_one_key(any_store: DataKeyStore, keyring: Keyring) -> None:
    """Eight workers, each with its own cache (as replicas have), create one bucket's key at once."""
    start = threading.Barrier(8)
    sealed: dict[str, bytes] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        env = _env(keyring, any_store)
        try:
            start.wait()
            sealed.update(_seal(env, A, f"w{n}a", f"w{n}b"))
        except BaseException as exc:  # reported below, on the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert any_store.count_by_kek() == {keyring.active_id: 1}
    assert {parse_sealed(v).key_id for v in sealed.values()} == {bucket_key_id(CAT, A)}
    reader = _env(keyring, any_store)
    for k, blob in sealed.items():
        assert reader.open(blob, object_id=f"node-1:{k}", category=CAT) == f"part-{k}".encode()


def test_the_loser_of_a_creation_race_seals_under_the_winners_key(
    any_store: DataKeyStore, keyring: Keyring
) -> None:
    winner, loser = _env(keyring, any_store), _env(keyring, any_store)
    _seal(winner, A, "k1")
    # The loser's cache is empty: its insert does nothing and it reads the winner's key back.
    blob = _seal(loser, A, "k2")["k2"]
    assert any_store.count_by_kek() == {keyring.active_id: 1}
    assert winner.open(blob, object_id="node-1:k2", category=CAT) == b"part-k2"


def test_a_field_swapped_between_records_of_one_bucket_fails_the_tag(
    any_store: DataKeyStore, keyring: Keyring
) -> None:
    env = _env(keyring, any_store)
    blobs = _seal(env, A, "k1", "k2")
    with pytest.raises(CryptoError, match="failed authentication"):
        env.open(blobs["k1"], object_id="node-1:k2", category=CAT)
    # Another category: the bucket key's row names inspection_events, refused before decrypting.
    with pytest.raises(CryptoError, match="refusing to open it for another record"):
        env.open(blobs["k1"], object_id="node-1:k1", category="alerts")


def test_a_field_under_another_buckets_key_fails(any_store: DataKeyStore, keyring: Keyring) -> None:
    env = _env(keyring, any_store)
    in_a = _seal(env, A, "k1")["k1"]
    _seal(env, B, "k2")
    # Point the object at bucket B's key (the key id is in the associated data): the tag fails.
    other = bytes.fromhex(bucket_key_id(CAT, B)[4:])
    forged = in_a[:7] + other + in_a[V2_PREFIX_BYTES:]
    with pytest.raises(CryptoError, match="failed authentication"):
        env.open(forged, object_id="node-1:k1", category=CAT)
    # A bucket that was never created: its key does not exist.
    missing = in_a[:7] + bytes.fromhex(bucket_key_id(CAT, "#h/2026120799/x/y")[4:]) + in_a[V2_PREFIX_BYTES:]
    with pytest.raises(CryptoError, match="does not exist"):
        env.open(missing, object_id="node-1:k1", category=CAT)


def test_bucket_keys_only_for_the_categories_named(any_store: DataKeyStore, keyring: Keyring) -> None:
    env = _env(keyring, any_store)
    # A category the envelope does not bucket (it may hold personal data) gets a key per record.
    asked = env.seal_in_buckets(
        [("q1", "#h/2026120713/a/b", b"who asked"), ("q2", "#h/2026120713/a/b", b"who else")],
        category="assistant_questions",
    )
    assert [any_store.get(parse_sealed(b).key_id).object_id for b in asked] == ["q1", "q2"]
    assert env.shred(object_id="q1", category="assistant_questions") == 1
    assert env.open(asked[1], object_id="q2", category="assistant_questions") == b"who else"
    blob = _seal(env, A, "k1")["k1"]
    # An envelope that buckets nothing refuses a bucket key before decrypting.
    strict = Envelope(keyring, any_store)
    with pytest.raises(CryptoError, match="belongs to inspection_events/#h/"):
        strict.open(blob, object_id="node-1:k1", category=CAT)
    with pytest.raises(CryptoError, match="bucket name"):
        env.seal_in_buckets([("#h/2026120713/a/b", A, b"x")], category=CAT)
    with pytest.raises(CryptoError, match="starts with '#'"):
        env.seal_in_buckets([("node-1:k9", "h/2026120713/a/b", b"x")], category=CAT)
    assert any_store.count_by_kek() == {
        keyring.active_id: 2
    }  # q2's and the bucket's: the bad calls stored nothing


def test_per_object_data_from_before_buckets_still_opens(any_store: DataKeyStore, keyring: Keyring) -> None:
    old = Envelope(keyring, any_store).seal(b"part-old", object_id="node-1:old", category=CAT)
    env = _env(keyring, any_store)
    assert env.open(old, object_id="node-1:old", category=CAT) == b"part-old"
    with pytest.raises(CryptoError, match="refusing to open it for another record"):
        env.open(old, object_id="node-1:k1", category=CAT)


def test_rotation_rewraps_bucket_keys_and_shredding_a_bucket_shreds_its_records(
    any_store: DataKeyStore, keyring: Keyring
) -> None:
    env = _env(keyring, any_store)
    blobs = _seal(env, A, "k1", "k2") | _seal(env, B, "k3")
    old_kek = keyring.active_id
    keyring.rotate()
    report = rewrap_all(keyring, any_store, batch_size=1)
    assert (report.rewrapped, report.remaining) == (2, {})
    assert old_kek not in any_store.count_by_kek()
    reader = _env(keyring, any_store)
    assert reader.open(blobs["k1"], object_id="node-1:k1", category=CAT) == b"part-k1"
    assert reader.shred(object_id=A, category=CAT) == 1
    for k in ("k1", "k2"):
        with pytest.raises(CryptoError, match="crypto-shredded"):
            reader.open(blobs[k], object_id=f"node-1:{k}", category=CAT)
    assert reader.open(blobs["k3"], object_id="node-1:k3", category=CAT) == b"part-k3"


def test_a_cached_key_is_read_again_after_its_ttl(any_store: DataKeyStore, keyring: Keyring) -> None:
    env = _env(keyring, any_store, buckets=BucketKeyCache(ttl_s=0.05))
    _seal(env, A, "k1")
    assert env.shred(object_id=A, category=CAT) == 1
    time.sleep(0.1)
    # Past its TTL the entry is not used: the bucket's key is created again and stored.
    blob = _seal(env, A, "k2")["k2"]
    assert _env(keyring, any_store).open(blob, object_id="node-1:k2", category=CAT) == b"part-k2"


def test_the_cache_is_bounded_and_keeps_no_key_in_its_repr(keyring: Keyring, tmp_path: Path) -> None:
    store = SqliteDataKeyStore(tmp_path / "dk.db")
    cache = BucketKeyCache(max_entries=2)
    env = _env(keyring, store, buckets=cache)
    for hour in range(5):
        _seal(env, f"#h/20261207{hour:02d}/plant-a/line-1", "k")
    assert len(cache) == 2
    key = cache.get(CAT, "#h/2026120704/plant-a/line-1")
    assert key is not None
    assert key.dek.hex() not in repr(cache) + repr(key) + repr(env)
    with pytest.raises(ValueError, match="max_entries"):
        BucketKeyCache(max_entries=0)
    store.close()
