"""Engine-independent row encoding for backups: JSON lines, typed by the table's columns.

Bytes become base64url strings, datetimes ISO 8601 strings with their offset, JSON
columns stay JSON; everything else is already a JSON scalar. Decoding uses the target
table's column types, so a dump from SQLite restores into PostgreSQL and back.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, LargeBinary, Table

from lineguard.contracts.errors import IntegrityError
from lineguard.crypto import b64d, b64e

__all__ = ["decode_row", "encode_row"]


def _encode_value(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return b64e(bytes(value))
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def encode_row(row: dict[str, Any]) -> bytes:
    return json.dumps({k: _encode_value(v) for k, v in row.items()}, separators=(",", ":")).encode() + b"\n"


def decode_row(table: Table, line: bytes, *, where: str) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except ValueError:
        msg = f"{where}: a row is not valid JSON"
        raise IntegrityError(msg) from None
    if not isinstance(data, dict) or set(data) - set(table.c.keys()):
        found = sorted(data) if isinstance(data, dict) else "?"
        msg = f"{where}: a row has columns {found} unknown to {table.name}"
        raise IntegrityError(msg)
    out: dict[str, Any] = {}
    for name, value in data.items():
        kind = table.c[name].type
        kind = getattr(kind, "impl_instance", kind)  # UtcDateTime and other decorators
        if value is None or isinstance(kind, JSON):
            out[name] = value
        elif isinstance(kind, LargeBinary):
            out[name] = b64d(value)
        elif isinstance(kind, DateTime):
            out[name] = datetime.fromisoformat(value)
        else:
            out[name] = value
    return out
