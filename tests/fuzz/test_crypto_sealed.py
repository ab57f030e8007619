"""Fuzz the sealed-object parser and Envelope.open: any input gives the plaintext or a CryptoError."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from tests.support.sealed_v1 import seal_v1

from lineguard.contracts.errors import CryptoError
from lineguard.crypto import Envelope, KdfParams, Keyring, SqliteDataKeyStore, parse_sealed


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_parse_sealed_never_crashes(blob: bytes) -> None:
    with contextlib.suppress(CryptoError):
        parse_sealed(blob)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([b"LGSEAL\x01", b"LGSEAL\x02", b"LGSEAL\x01\x00\x10{"]), st.binary(max_size=120))
def test_parse_sealed_never_crashes_past_the_magic(head: bytes, rest: bytes) -> None:
    with contextlib.suppress(CryptoError):
        parse_sealed(head + rest)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_sealed_objects_never_open_to_anything_else(tmp_path: Path, data: st.DataObject) -> None:
    env = _env(tmp_path)
    _refuses_a_mutation(env, env.seal(b"the original plaintext", object_id="rec_1", category="c"), data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_v1_objects_never_open_to_anything_else(tmp_path: Path, data: st.DataObject) -> None:
    env = _env(tmp_path)
    sealed = seal_v1(env.keys, env.store, b"the original plaintext", object_id="rec_1", category="c")
    _refuses_a_mutation(env, sealed, data)


def _refuses_a_mutation(env: Envelope, sealed: bytes, data: st.DataObject) -> None:
    """One byte of ``sealed`` changed, then cut anywhere: opening it must raise CryptoError."""
    index = data.draw(st.integers(0, len(sealed) - 1))
    blob = bytearray(sealed)
    blob[index] ^= data.draw(st.integers(1, 255))
    cut = data.draw(st.integers(0, len(blob)))
    try:
        env.open(bytes(blob[:cut]), object_id="rec_1", category="c")
    except CryptoError:
        return
    raise AssertionError(f"a mutated sealed object (version {sealed[6]}) opened")


_ENVS: dict[Path, Envelope] = {}


def _env(tmp_path: Path) -> Envelope:
    if tmp_path not in _ENVS:
        keyring = Keyring.create(
            tmp_path / "k.json", SecretStr("fuzz passphrase"), kdf=KdfParams.insecure_for_tests()
        )
        _ENVS[tmp_path] = Envelope(keyring, SqliteDataKeyStore(tmp_path / "dk.db"))
    return _ENVS[tmp_path]
