"""The passphrase-protected keyring: opens only with its passphrase, refuses tampering."""

from __future__ import annotations

import json
import logging
import stat
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from lineguard.contracts.errors import CryptoError, NotFoundError
from lineguard.crypto import KdfParams, Keyring, dek_aad
from tests.unit.crypto.conftest import PASSPHRASE


def test_file_is_private_and_reopens_with_the_passphrase(keyring: Keyring) -> None:
    assert stat.S_IMODE(keyring.path.stat().st_mode) == 0o600
    again = Keyring(keyring.path, PASSPHRASE)
    assert again.active_id == keyring.active_id
    aad = dek_aad("dek_1", "c", "o")
    assert again.active().unwrap(keyring.active().wrap(b"k" * 32, aad), aad) == b"k" * 32


def test_wrong_passphrase_is_named(keyring: Keyring) -> None:
    with pytest.raises(CryptoError, match="wrong passphrase"):
        Keyring(keyring.path, SecretStr("not it"))


def test_refuses_to_overwrite(keyring: Keyring) -> None:
    with pytest.raises(CryptoError, match="already exists"):
        Keyring.create(keyring.path, PASSPHRASE, kdf=KdfParams.insecure_for_tests())


def _edit(path: Path, change: object) -> None:
    doc = json.loads(path.read_text())
    change(doc)  # type: ignore[operator]
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d.update(active="kek_forged"), id="active-changed"),
        pytest.param(lambda d: d["keys"].append(dict(d["keys"][0], kek_id="kek_x")), id="key-added"),
        pytest.param(lambda d: d["keys"][0].update(state="active"), id="state-changed"),
        pytest.param(
            lambda d: d["keys"][0].update(wrapped=d["keys"][0]["wrapped"][::-1]), id="wrapped-edited"
        ),
    ],
)
def test_tampered_file_is_refused(keyring: Keyring, change: object) -> None:
    keyring.rotate()
    _edit(keyring.path, change)
    with pytest.raises(CryptoError, match="modified outside LineGuard"):
        Keyring(keyring.path, PASSPHRASE)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"format": "other"}', "not a LineGuard keyring"),
        (b'{"format": "lineguard-keyring", "version": 9}', "unsupported version 9"),
        (b'{"format": "lineguard-keyring", "version": 1}', "lacks fields"),
    ],
)
def test_corrupt_file_is_refused_clearly(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "keyring.json"
    path.write_bytes(content)
    with pytest.raises(CryptoError, match=message):
        Keyring(path, PASSPHRASE)


def test_rotation_keeps_old_keks_for_unwrapping_and_other_processes_see_it(keyring: Keyring) -> None:
    aad = dek_aad("dek_1", "c", "o")
    old_id = keyring.active_id
    wrapped = keyring.active().wrap(b"d" * 32, aad)
    reader = Keyring(keyring.path, PASSPHRASE)  # e.g. the running server
    new_id = keyring.rotate()
    assert new_id != old_id
    assert {i.kek_id: i.state for i in keyring.describe()} == {old_id: "retired", new_id: "active"}
    # An unknown KEK id makes the reader reload the file, without a restart.
    assert reader.get(new_id).kek_id == new_id
    assert reader.get(old_id).unwrap(wrapped, aad) == b"d" * 32


def test_destroy_needs_retired_and_grace(keyring: Keyring) -> None:
    old_id = keyring.active_id
    with pytest.raises(CryptoError, match="only a retired KEK"):
        keyring.destroy(old_id, min_retired_s=0)
    keyring.rotate()
    with pytest.raises(CryptoError, match="wait until"):
        keyring.destroy(old_id)
    keyring.destroy(old_id, min_retired_s=0)
    with pytest.raises(CryptoError, match="not in keyring"):
        keyring.get(old_id)
    with pytest.raises(NotFoundError):
        keyring.destroy(old_id, min_retired_s=0)


def test_change_passphrase(keyring: Keyring) -> None:
    new = SecretStr("a new long passphrase")
    keyring.change_passphrase(new, kdf=KdfParams.insecure_for_tests())
    assert Keyring(keyring.path, new).active_id == keyring.active_id
    with pytest.raises(CryptoError, match="wrong passphrase"):
        Keyring(keyring.path, PASSPHRASE)


def test_no_key_material_in_repr_or_logs(keyring: Keyring, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    keyring.rotate()
    doc = json.loads(keyring.path.read_text())
    shown = repr(keyring) + repr(keyring.active()) + repr(keyring.describe()) + caplog.text
    assert PASSPHRASE.get_secret_value() not in shown
    for entry in doc["keys"]:
        assert entry["wrapped"] not in shown
    assert "SoftwareKek(kek_id=" in repr(keyring.active())
    assert not [
        a for a in dir(keyring.active()) if "key" in a.lower() and not a.startswith("_") and a != "kek_id"
    ]


def test_file_check_is_rate_limited_but_sees_changes(keyring: Keyring) -> None:
    reader = Keyring(keyring.path, PASSPHRASE)
    new_id = keyring.rotate()
    reader._checked_at = time.monotonic() - 5  # as if a second had passed
    assert reader.active().kek_id == new_id
