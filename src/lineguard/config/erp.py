"""The ERP the plant-data store reads from (``erp:`` in ``server.yaml``).

``lineguard data sync erp`` reads the ERP through its own API with a **read-only**
ERP user and stores what it reads as labelled plant data (docs/plant-data.md#erp-connector).
Today one product is supported, Tryton (``kind: tryton``, JSON-RPC); another ERP
becomes a second class here and a discriminated union on ``kind``.

The password is a :class:`SecretRef` (environment or file), never a value in the YAML.
``warehouses`` maps the ERP's warehouse codes to LineGuard lines: a record of a
warehouse in the map is scoped to that line; a record of a warehouse that is not
mapped, or with none, sits on the whole site, the narrowest audience there is (only a
site-wide grant of its category reads it), so a gap in the map never widens anything.
The ERP's host must also be allowed by ``egress.allow``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lineguard.config.integrations import _http_url
from lineguard.config.secrets import SecretRef

__all__ = ["TrytonErpConfig"]

_LINE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class TrytonErpConfig(BaseModel):
    """A Tryton server (``trytond``) read through JSON-RPC."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["tryton"] = Field(title="Kind", description="Which ERP product this is.")
    name: str = Field(
        default="erp",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
        title="Name",
        description="How the CLI and the audit log name this ERP; records' source is erp:<name>.",
    )
    url: str = Field(
        max_length=500,
        title="URL",
        description="Base URL of the Tryton server (https:// in production), without the database.",
    )
    database: str = Field(
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$", title="Database", description="The Tryton database."
    )
    username: str = Field(
        min_length=1, max_length=100, title="User", description="A Tryton user with read access only."
    )
    password: SecretRef = Field(title="Password", description="That user's password.")
    warehouses: dict[str, str] = Field(
        default_factory=dict,
        max_length=1000,
        title="Warehouse → line",
        description="The LineGuard line of each Tryton warehouse code; records of other warehouses "
        "sit on the whole site.",
    )
    page_size: int = Field(
        default=200, ge=1, le=5000, title="Page size", description="Records read per JSON-RPC call."
    )
    overlap_s: int = Field(
        default=300,
        ge=0,
        le=86_400,
        title="Cursor overlap (s)",
        description="Each sync re-reads records changed this long before the cursor, so a record "
        "committed late with an earlier timestamp is not missed (re-reading is idempotent).",
    )

    _check_url = field_validator("url")(_http_url)

    @field_validator("warehouses")
    @classmethod
    def _lines(cls, warehouses: dict[str, str]) -> dict[str, str]:
        for code, line in warehouses.items():
            if not code.strip() or not re.match(_LINE, line):
                msg = f"warehouse {code!r} → {line!r}: a line is 1-64 letters, digits, '.', '_' or '-'"
                raise ValueError(msg)
        return warehouses
