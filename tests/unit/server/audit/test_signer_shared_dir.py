"""Replicas sharing one ``data_dir`` that start together end up with one audit key."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import SecretStr

from lineguard.crypto import KdfParams, Keyring
from lineguard.server.audit import AuditSigner


def test_starting_together_creates_one_audit_key(tmp_path: Path) -> None:
    keys = Keyring.create(
        tmp_path / "keys" / "keyring.json",
        SecretStr("a long test passphrase"),
        kdf=KdfParams.insecure_for_tests(),
    )
    start = threading.Barrier(4)

    def load(_: int) -> str:
        start.wait()
        return AuditSigner.load_or_create(tmp_path / "audit", keys).key_id

    with ThreadPoolExecutor(max_workers=4) as pool:
        key_ids = set(pool.map(load, range(4)))
    assert len(key_ids) == 1
    assert key_ids == {AuditSigner.load_or_create(tmp_path / "audit", keys).key_id}
