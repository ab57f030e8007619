"""JSON files that carry their own SHA-256: node-local state read back at the next start.

A thermal camera's learned bands (``edge/thermal/bands_file.py``) and a PPE camera's open
hour (``edge/ppe/open_hour.py``) are written as canonical JSON (sorted keys, no spaces, no
NaN) with a ``sha256`` key over everything else, privately and atomically
(:func:`~lineguard.crypto.atomic_write`). :func:`read_digested` checks that the file parses
and that its digest matches its content, raising
:class:`~lineguard.contracts.errors.IntegrityError` ("its digest says …, but its content
hashes to …") otherwise; what the content must hold is the caller's to check.

The digest detects corruption, truncation and edits by hand; it is not a signature. Anyone
who can write the node's data directory can also change its edge.yaml.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from lineguard.contracts.errors import IntegrityError
from lineguard.crypto._files import atomic_write

__all__ = ["digest_json", "read_digested", "write_digested"]


def digest_json(value: Any) -> bytes:
    """The bytes the digest is taken over (and the file holds): sorted keys, no spaces, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def write_digested(path: Path, body: dict[str, Any]) -> None:
    """Write ``body`` with its ``sha256`` (0600, atomic); OSError when the disk refuses."""
    sealed = dict(body)
    sealed["sha256"] = hashlib.sha256(digest_json(body)).hexdigest()
    atomic_write(path, digest_json(sealed))


def read_digested(path: Path, *, what: str, kind: str) -> dict[str, Any]:
    """The content of a file :func:`write_digested` wrote, without its digest.

    ``what`` and ``kind`` name the file in errors: "… cannot be read as {what}",
    "… is not a {kind} file (no digest)"."""
    try:
        body = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        msg = f"{path.name} cannot be read as {what} ({exc})"
        raise IntegrityError(msg) from exc
    if not isinstance(body, dict) or not isinstance(body.get("sha256"), str):
        msg = f"{path.name} is not a {kind} file (no digest)"
        raise IntegrityError(msg)
    stated = body.pop("sha256")
    actual = hashlib.sha256(digest_json(body)).hexdigest()
    if stated != actual:
        msg = (
            f"{path.name}: its digest says {stated[:16]}…, but its content hashes to {actual[:16]}… "
            "(corrupt or edited)"
        )
        raise IntegrityError(msg)
    return body
