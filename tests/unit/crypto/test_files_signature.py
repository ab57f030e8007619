"""``files_signature``: the change check the server's TLS/CA followers and the node's transport share."""

from __future__ import annotations

import os
from pathlib import Path

from lineguard.crypto import atomic_write, files_signature


def test_unchanged_files_give_the_same_signature_and_a_replacement_changes_it(tmp_path: Path) -> None:
    cert, key = tmp_path / "node.pem", tmp_path / "ca.crt.pem"
    atomic_write(cert, b"first")
    atomic_write(key, b"trust")
    before = files_signature(cert, key)
    assert files_signature(cert, key) == before

    atomic_write(cert, b"first")  # same bytes, replaced whole: a new inode
    after = files_signature(cert, key)
    assert after != before
    assert after[1] == before[1]  # only the replaced file's entry moved


def test_a_missing_file_is_none_and_its_appearance_is_a_change(tmp_path: Path) -> None:
    path = tmp_path / "server.crt.pem"
    assert files_signature(path) == (None,)
    atomic_write(path, b"pem")
    assert files_signature(path)[0] is not None


def test_a_file_rewritten_in_place_changes_the_signature(tmp_path: Path) -> None:
    path = tmp_path / "trust.pem"
    path.write_bytes(b"one CA")
    before = files_signature(path)
    path.write_bytes(b"two CAs!")  # same inode, new size
    os.utime(path, ns=(1, 1))
    assert files_signature(path) != before
