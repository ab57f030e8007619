"""Files into plant records: CSV and JSON lines (one record per row), Markdown, text and
PDF (one document per file).

Every problem is found before anything is stored and reported with its line number
(``line 7: quantity 'ten' is not a number``); one bad row means no row of the file is
imported. Structured files need an ``id`` column (the record's key in its source, so a
re-import updates instead of duplicating). Known columns: ``id``, ``type`` (record
type), ``date``, ``line``, ``title``, ``text``; every other column is a field of the
record (sealed). Numeric columns (:data:`NUMERIC_COLUMNS`, and names ending in
:data:`NUMERIC_SUFFIXES`) must hold numbers.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lineguard.contracts.errors import InputError
from lineguard.server.plantdata.labels import plant_category
from lineguard.server.plantdata.schemas import FieldValue, PlantRecordIn

__all__ = ["MAX_FILE_BYTES", "NUMERIC_COLUMNS", "NUMERIC_SUFFIXES", "ImportedFile", "parse_file"]

MAX_FILE_BYTES = 50 * 1024 * 1024
NUMERIC_COLUMNS = frozenset(
    {
        "quantity",
        "amount",
        "unit_price",
        "price",
        "cost",
        "value",
        "defects",
        "scrap",
        "planned",
        "produced",
        "downtime_min",
        "hours",
    }
)
NUMERIC_SUFFIXES = ("_qty", "_min", "_hours", "_price", "_cost", "_pct", "_eur", "_usd", "_count")
_RESERVED = frozenset({"id", "type", "date", "line", "title", "text"})
_STRUCTURED = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_DOCUMENTS = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text", ".pdf": "pdf"}
_MAX_PROBLEMS = 200


@dataclass(frozen=True)
class ImportedFile:
    """What a file holds, ready for :func:`~lineguard.server.plantdata.upsert_records`."""

    format: str
    records: list[PlantRecordIn]


def _numeric(name: str) -> bool:
    return name in NUMERIC_COLUMNS or name.endswith(NUMERIC_SUFFIXES)


def _parse_date(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _scalar(name: str, raw: Any) -> FieldValue:
    if raw is None or isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and not _numeric(name):
        return raw
    if isinstance(raw, dict | list):
        msg = f"{name} is a nested value; only text, numbers and true/false are accepted"
        raise ValueError(msg)  # noqa: TRY004 - a bad cell, reported with its line number
    if _numeric(name):
        text = str(raw).strip().replace(",", "")
        if text == "":
            return None
        try:
            number = float(text)
        except ValueError:
            msg = f"{name} {str(raw)[:40]!r} is not a number"
            raise ValueError(msg) from None
        return int(number) if number.is_integer() and "." not in text else number
    return str(raw)


def _row_record(
    row: dict[str, Any], *, category: str, source: str, lines: tuple[str, ...] | None, stem: str
) -> PlantRecordIn:
    key = str(row.get("id") or "").strip()
    if not key:
        msg = "no id (every row needs one: its key in the source)"
        raise ValueError(msg)
    fields = {name: _scalar(name, value) for name, value in row.items() if name not in _RESERVED and name}
    row_line = str(row.get("line") or "").strip()
    if row_line and lines is not None and row_line not in lines:
        msg = f"line {row_line!r} is not among --line {', '.join(lines)}"
        raise ValueError(msg)
    when = str(row.get("date") or "").strip()
    return PlantRecordIn(
        category=category,
        kind="record",
        source=source,
        source_key=key,
        record_type=str(row.get("type") or stem).strip()[:64] or "record",
        lines=(row_line,) if row_line else lines,
        occurred_at=_parse_date(when) if when else None,
        title=str(row.get("title") or "")[:500],
        fields=fields,
        text=str(row.get("text") or ""),
    )


def _problem(number: int, exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"line {number}: {where}: {first['msg']}"
    return f"line {number}: {exc}"


def _structured(text: str, fmt: str, **kw: Any) -> list[PlantRecordIn]:
    records: list[PlantRecordIn] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    rows: list[tuple[int, dict[str, Any] | None, Exception | None]] = []
    if fmt == "csv":
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            header = []
        except csv.Error as exc:
            msg = f"line 1: unreadable CSV header ({exc})"
            raise InputError(msg) from None
        if "id" not in header:
            msg = "the CSV header has no 'id' column (every record needs its key in the source)"
            raise InputError(msg, details=[f"line 1: columns {', '.join(header)[:200]}"])
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                rows.append((reader.line_num, None, ValueError(f"unreadable CSV ({exc})")))
                continue
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                rows.append(
                    (reader.line_num, None, ValueError(f"{len(cells)} cells, the header has {len(header)}"))
                )
                continue
            rows.append((reader.line_num, dict(zip(header, cells, strict=True)), None))
    else:
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError as exc:
                rows.append((number, None, ValueError(f"not JSON ({exc.args[0][:80]})")))
                continue
            if not isinstance(obj, dict):
                rows.append((number, None, ValueError("not a JSON object")))
                continue
            rows.append((number, obj, None))
    for number, row, error in rows:
        if error is None and row is not None:
            try:
                record = _row_record(row, **kw)
            except (ValueError, ValidationError) as exc:
                error = exc
            else:
                first = seen.setdefault(record.source_key, number)
                if first != number:
                    error = ValueError(f"id {record.source_key!r} repeats line {first}")
                else:
                    records.append(record)
        if error is not None:
            problems.append(_problem(number, error))
    if problems:
        msg = f"{len(problems)} bad row(s); nothing was imported"
        raise InputError(msg, details=problems[:_MAX_PROBLEMS])
    if not records:
        msg = "the file holds no records"
        raise InputError(msg)
    return records


def _pdf_text(data: bytes, name: str) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        text = "\n".join((page.extract_text() or "") for page in reader.pages)
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        why = f"{type(exc).__name__}: {str(exc)[:120]}"
        msg = f"{name}: the PDF could not be parsed ({why}); nothing was imported"
        raise InputError(msg) from None
    if not text.strip():
        msg = f"{name}: the PDF has no extractable text (a scan?); nothing was imported"
        raise InputError(msg)
    return text


def _title(text: str, fallback: str) -> str:
    for raw in text.splitlines():
        line = raw.strip()
        if line:
            return re.sub(r"^#+\s*", "", line)[:200] or fallback
    return fallback


def parse_file(
    path: Path,
    *,
    category: str,
    lines: tuple[str, ...] | None = None,
    source: str = "file",
    key: str | None = None,
    record_type: str | None = None,
) -> ImportedFile:
    """The records of ``path`` labelled ``category`` and ``lines``; :class:`InputError` with
    every problem (line numbers for rows) and nothing parsed half."""
    plant_category(category)
    suffix = path.suffix.lower()
    fmt = _STRUCTURED.get(suffix) or _DOCUMENTS.get(suffix)
    if fmt is None:
        known = ", ".join(sorted({*_STRUCTURED, *_DOCUMENTS}))
        msg = f"{path.name}: unknown file type {suffix or '(none)'!r}; expected one of {known}"
        raise InputError(msg)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            msg = f"{path.name} is {size} bytes, at most {MAX_FILE_BYTES} are imported at once; split it"
            raise InputError(msg)
        data = path.read_bytes()
    except OSError as exc:
        msg = f"{path}: cannot read ({exc.strerror or exc})"
        raise InputError(msg) from None
    if fmt == "pdf":
        text = _pdf_text(data, path.name)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            msg = f"{path.name}: not UTF-8 text"
            raise InputError(
                msg, details=[f"line {line}: byte {data[exc.start]:#04x} is not UTF-8"]
            ) from None
    if fmt in ("csv", "jsonl"):
        records = _structured(text, fmt, category=category, source=source, lines=lines, stem=path.stem)
        return ImportedFile(fmt, records)
    try:
        document = PlantRecordIn(
            category=category,
            kind="document",
            source=source,
            source_key=key or path.name,
            record_type=record_type or "document",
            lines=lines,
            occurred_at=datetime.fromtimestamp(path.stat().st_mtime, tz=UTC),
            title=_title(text, path.stem),
            text=text,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        msg = f"{path.name}: {'.'.join(map(str, first['loc']))}: {first['msg']}"
        raise InputError(msg) from None
    return ImportedFile(fmt, [document])
