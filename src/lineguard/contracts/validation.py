"""Turn pydantic validation errors into one readable line per problem, and parse
wire messages with a size limit checked before any JSON is decoded.

``cameras[1].roi.width: must be > 0`` is the shape every caller shows: the config
checker, the ingest API's 4xx body and the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from lineguard.contracts.errors import ContractError, PayloadTooLargeError
from lineguard.contracts.events import MAX_BATCH_BYTES

__all__ = ["format_location", "format_validation_error", "parse_message"]

M = TypeVar("M", bound=BaseModel)

_CONSTRAINT_MESSAGES: dict[str, str] = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "missing": "is required",
    "extra_forbidden": "is not a known setting (check the spelling)",
    "string_too_long": "must be at most {max_length} characters",
    "string_too_short": "must be at least {min_length} characters",
    "too_long": "must have at most {max_length} items",
    "too_short": "must have at least {min_length} items",
    "string_pattern_mismatch": "must match {pattern}",
    "finite_number": "must be a finite number",
}


def format_location(loc: Sequence[int | str]) -> str:
    """``("cameras", 1, "roi", "width")`` → ``cameras[1].roi.width``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


def _message(error: Any) -> str:
    template = _CONSTRAINT_MESSAGES.get(error["type"])
    # 1.0 reads as 1 to a person editing YAML.
    ctx = {
        k: int(v) if isinstance(v, float) and v.is_integer() else v
        for k, v in (error.get("ctx") or {}).items()
    }
    if template is not None:
        try:
            return template.format(**ctx)
        except KeyError:
            pass
    msg = str(error["msg"])
    # pydantic prefixes custom ValueError messages with "Value error, ".
    return msg.removeprefix("Value error, ")


def _location(error: Any) -> list[int | str]:
    # Discriminated unions insert the tag name (e.g. "folder") into the path; keep it, it
    # tells the user which variant was being checked.
    return [p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))]


def format_validation_error(exc: ValidationError) -> list[str]:
    """One ``path: message`` line per error, in document order."""
    return [f"{format_location(_location(e))}: {_message(e)}" for e in exc.errors()]


def parse_message(model: type[M], raw: bytes, *, max_bytes: int = MAX_BATCH_BYTES) -> M:
    """Validate a JSON wire message, refusing oversized input before parsing it."""
    if len(raw) > max_bytes:
        msg = f"{model.__name__} payload is {len(raw)} bytes; the limit is {max_bytes}"
        raise PayloadTooLargeError(msg)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        details = format_validation_error(exc)
        msg = f"invalid {model.__name__}: {details[0]}" + (
            f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        )
        raise ContractError(msg, details=details) from None
