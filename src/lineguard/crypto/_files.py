"""Private file helpers: atomic 0600 writes, an advisory lock for writers, and a cheap change check.

:func:`files_signature` lives here, below both the edge and the server, because both
follow files another process replaces whole: the server its TLS and CA files
(``server/tls/reload.py``, ``server/pki/live.py``), the node its renewed certificate
(``edge/identity/client.py``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["FilesSignature", "atomic_write", "exclusive_lock", "files_signature"]

#: What identifies one version of a set of files: (path, inode, size, mtime ns), None if missing.
FilesSignature = tuple[tuple[str, int, int, int] | None, ...]


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new file, never half of one.

    The temporary file is created with ``mode`` from the start (never world-readable
    for an instant), flushed to disk, renamed over the target, and the directory is
    synced so the rename itself survives a power cut.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(mode)  # O_CREAT honours the umask; make the mode exact
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an advisory lock on ``<path>.lock`` so two writers never interleave."""
    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def files_signature(*paths: Path) -> FilesSignature:
    """One ``stat`` per file: changes when any of them is replaced, rewritten or removed.

    Writers replace these files whole (a new file renamed over the old one), so a
    change always brings a new inode; size and mtime catch a file rewritten in place.
    """
    signature: list[tuple[str, int, int, int] | None] = []
    for path in paths:
        try:
            st = path.stat()
        except FileNotFoundError:
            signature.append(None)
            continue
        signature.append((str(path), st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(signature)
