"""The server's data directory is private: 0700 directories, 0600 files, checked at start.

``mkdir(mode=0o700, exist_ok=True)`` does not narrow a directory that already exists,
and SQLite creates its database, WAL and shared-memory files with the process umask
(0644 under the usual 022): the review found the database readable by every local user.
So :func:`run_server <lineguard.server.admin.run_server>` sets the umask to 077 (every
file it creates from then on is private) and :func:`check_private_tree` walks the data
directory before anything opens it, refusing to start — naming each path, its mode and
the mode expected — when anything is wider; ``lineguard server --fix-permissions``
narrows them instead.

Public by design, so readable (never writable) by others: published public keys
(``*.pub.pem``), the model-signing trust list (``signers.json``), and the TUF repository's metadata and
targets (nodes fetch them; they are signed). Symbolic links are reported, not followed.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from lineguard.contracts.errors import ConfigError

__all__ = ["ModeProblem", "check_private_tree", "find_wide_modes"]

_SHOWN = 20


@dataclass(frozen=True, slots=True)
class ModeProblem:
    path: Path
    mode: int
    expected: int

    def __str__(self) -> str:
        return f"{self.path}: mode {self.mode:04o}, expected {self.expected:04o} or narrower"


def _public(relative: Path) -> bool:
    parts = relative.parts
    if relative.name.endswith((".pub.pem", "signers.json")):  # public keys, the signing trust list
        return True
    return parts[:3] in (("registry", "tuf", "metadata"), ("registry", "tuf", "targets"))


def find_wide_modes(root: Path) -> list[ModeProblem]:
    """Every path under ``root`` (itself included) wider than private."""
    problems: list[ModeProblem] = []
    for current, dirs, files in os.walk(root, followlinks=False):
        here = Path(current)
        for path in [
            here,
            *(here / name for name in files),
            *(here / d for d in dirs if (here / d).is_symlink()),
        ]:
            info = path.lstat()
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                problems.append(ModeProblem(path, mode, 0))
                continue
            if stat.S_ISDIR(info.st_mode):
                expected = 0o700 if path == root or not _public(path.relative_to(root)) else 0o755
            else:
                expected = 0o644 if _public(path.relative_to(root)) else 0o600
            if mode & ~expected & 0o077:
                problems.append(ModeProblem(path, mode, expected))
    return problems


def check_private_tree(root: Path, *, fix: bool = False) -> int:
    """Refuse (:class:`ConfigError`) if anything under ``root`` is wider than private.

    With ``fix``, narrow each such path instead (symbolic links still refuse) and
    return how many were changed. A missing ``root`` is created 0700.
    """
    if not root.exists():
        root.mkdir(parents=True, mode=0o700)
        root.chmod(0o700)
        return 0
    problems = find_wide_modes(root)
    links = [p for p in problems if p.expected == 0]
    if fix and not links:
        for p in problems:
            p.path.chmod(p.mode & p.expected)
        return len(problems)
    if problems:
        shown = [str(p) if p.expected else f"{p.path}: a symbolic link (not allowed here)" for p in problems]
        more = f" (and {len(shown) - _SHOWN} more)" if len(shown) > _SHOWN else ""
        msg = (
            f"{len(problems)} path(s) in the data directory {root} are readable or writable by other "
            f"users{more}; refusing to start. Run `lineguard server --fix-permissions` (or chmod them)"
        )
        raise ConfigError(msg, details=shown[:_SHOWN])
    return 0
