"""What the egress routes answer: the allowlist as configured and the gate's denial count."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["DenialOut", "EgressStatus", "RuleOut"]


class RuleOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    destination: str
    pinned_ca: bool
    addresses: list[str]
    purpose: str


class DenialOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    destination: str
    purpose: str
    reason: str
    at: str


class EgressStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[RuleOut]
    allow_wildcards: bool
    denied_since_start: int
    last_denial: DenialOut | None
