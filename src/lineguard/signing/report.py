"""What a node tells the server about one update attempt (``POST /api/v1/registry/reports``).

The server turns each report into an audit event (``model.deployed`` confirmed by the
node, or ``model.rejected`` with the failed check), so a refusal on the line is visible
in the plant's tamper-evident log, not only in the node's own journal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lineguard.contracts.events import Name, OpaqueId, Sha256Hex

__all__ = ["UpdateReport"]


class UpdateReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    node_id: Name
    outcome: Literal["installed", "rejected"]
    #: The failed check (see ``lineguard.signing.CHECKS``); empty when installed.
    check: str = Field(default="", max_length=32, pattern=r"^[a-z_]*$")
    reason: str = Field(default="", max_length=500)
    release: int | None = Field(default=None, ge=1, le=2**53)
    model_id: OpaqueId | None = None
    model_version: int | None = Field(default=None, ge=1, le=2**53)
    sha256: Sha256Hex | None = None
    #: The model the node keeps (or now) running.
    running_sha256: Sha256Hex | None = None
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
