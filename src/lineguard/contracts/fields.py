"""Field types every wire message shares: bounded names and ids, finite numbers, UTC times.

They live apart from the messages so that message modules (``events``, ``stages``) can
import them without importing each other.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import TzInfo

__all__ = [
    "SCHEMA_VERSION",
    "DefectClass",
    "FiniteFloat",
    "Name",
    "OpaqueId",
    "Sha256Hex",
    "UtcDatetime",
    "Verdict",
    "WireMessage",
]

SCHEMA_VERSION: Literal[1] = 1


def _utc(value: datetime) -> datetime:
    tz = value.tzinfo
    # A time parsed from JSON carries pydantic-core's TzInfo, a fixed offset that is never
    # None: asking it (a call into Rust, ~2.6k instructions) is skipped for that type only.
    # Any other tzinfo may answer None (then astimezone would read the time as local).
    if tz is None or (type(tz) is not TzInfo and value.utcoffset() is None):
        msg = "must be timezone-aware (UTC)"
        raise ValueError(msg)
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
#: NaN, ±Infinity and overflowing literals (1e400) are refused inside pydantic-core, before
#: any bound: a Python AfterValidator here cost a call per float on every ingested event
#: (~1.1k instructions each; bench/profile_parse.py). validation.py words the error
#: "must be a finite number".
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
#: Human-chosen names for sites, lines, stations, cameras and nodes.
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
#: Opaque ids minted by LineGuard (prefix + UUIDv7 hex) or by the plant (barcodes).
OpaqueId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
DefectClass = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class WireMessage(BaseModel):
    """Base of every wire message: unknown fields refused, immutable, strings bounded."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=1000)


class Verdict(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    UNCERTAIN = "uncertain"
