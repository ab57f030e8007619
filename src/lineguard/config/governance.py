"""The ``governance`` section of ``server.yaml``: named owners, review intervals, notice inputs.

Owners are accounts of the plant server (a username), never free text: ``lineguard
doctor`` checks that each one exists, is enabled and holds the role the duty needs, and
the governance documents print the account's display name. Review intervals drive the
"overdue" flags of the doctor and of ``lineguard access-review``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["GovernanceConfig", "Owner", "OwnersConfig"]

_USERNAME = r"^[a-z0-9][a-z0-9._-]{1,63}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Owner(_Section):
    """One named duty: the account that carries it and how often it must act."""

    username: str = Field(pattern=_USERNAME, title="Account", description="Username of the owner's account.")
    review_interval_days: int = Field(
        default=90, ge=1, le=366, title="Review interval", description="Days between two reviews."
    )


class OwnersConfig(_Section):
    audit_log_reviewer: Owner | None = Field(
        default=None, title="Audit-log reviewer", description="Reviews the audit log; holds the auditor role."
    )
    security_owner: Owner | None = Field(
        default=None,
        title="System-security owner",
        description="Owns the system's security (certificates, keys, updates); holds it_administrator.",
    )
    data_protection_contact: Owner | None = Field(
        default=None,
        title="Data-protection contact",
        description="Answers workers' and authorities' questions about the processing.",
    )


class GovernanceConfig(_Section):
    controller: str = Field(
        default="",
        max_length=200,
        title="Controller",
        description="Legal name of the organisation that runs the plant (GDPR Art. 30(1)(a)).",
    )
    owners: OwnersConfig = OwnersConfig()
    access_review_interval_days: int = Field(
        default=90, ge=7, le=366, description="Days between two signed-off access reviews."
    )
    dormant_after_days: int = Field(
        default=60, ge=7, le=366, description="An account unused this long is dormant."
    )
    partner_expiry_warning_days: int = Field(
        default=14, ge=1, le=90, description="Partner grants ending within this many days are flagged."
    )
    edge_configs: list[Path] = Field(
        default_factory=list,
        max_length=256,
        title="Edge configs",
        description="The edge.yaml of every node: cameras, privacy zones and evidence retention for the "
        "worker notices and the data inventory (relative paths resolve against the working directory).",
    )
