"""The enterprise roll-up, both ends: what a plant sends (``server.yaml``: ``enterprise``)
and the roll-up service itself (``enterprise.yaml``, ``kind: enterprise``).

A plant sends **aggregates only** (``lineguard.contracts.enterprise``) and only when its
``enterprise.enabled`` is true: off by default, so a plant that never chose to report
upwards never opens a connection for it. The roll-up's URL must be on the plant's egress
allowlist (checked at start and at every send), and the plant authenticates with a client
certificate the roll-up's CA issued for it (``lineguard enterprise plant-request`` on the
plant, ``lineguard enterprise plant enrol`` at the roll-up).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lineguard.config.keyring import KeyringConfig
from lineguard.config.secrets import SecretRef

__all__ = ["EnterpriseRollupConfig", "EnterpriseServiceConfig"]

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnterpriseRollupConfig(_Section):
    """Plant side (``server.yaml``: ``enterprise``): where and how often to send the line-day aggregates."""

    enabled: bool = Field(
        default=False, title="Send aggregates", description="Off by default: nothing leaves the plant."
    )
    url: str | None = Field(
        default=None,
        max_length=500,
        title="Roll-up URL",
        description="https://host:port of the enterprise roll-up; must be in egress.allow.",
    )
    plant_id: str | None = Field(
        default=None,
        pattern=_NAME,
        title="Plant id",
        description="How the roll-up knows this plant (its certificate's name); default: site_id.",
    )
    client_cert_file: Path | None = Field(
        default=None, title="Client certificate", description="PEM issued for this plant by the roll-up's CA."
    )
    client_key_file: Path | None = Field(
        default=None, title="Client key", description="The plant's private key for that certificate (0600)."
    )
    interval_s: float = Field(
        default=300, ge=1, le=86_400, title="Interval", description="Seconds between rounds."
    )
    lookback_days: int = Field(
        default=7,
        ge=1,
        le=90,
        title="Look-back",
        description="Past UTC days recounted each round (late data from a node's outbox changes them).",
    )
    batch_line_days: int = Field(
        default=200, ge=1, le=500, title="Batch", description="Line-days sent per request."
    )
    retry_max_s: float = Field(
        default=1800,
        ge=1,
        le=86_400,
        title="Longest retry wait",
        description="A failed send is retried after 2^attempts × interval, at most this long.",
    )

    @field_validator("url")
    @classmethod
    def _https(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname or parts.path not in {"", "/"}:
            msg = f"must be an https://host[:port] URL (mutual TLS), got {url!r}"
            raise ValueError(msg)
        return url.rstrip("/")

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> EnterpriseRollupConfig:
        if self.enabled:
            missing = [
                name for name in ("url", "client_cert_file", "client_key_file") if getattr(self, name) is None
            ]
            if missing:
                msg = f"enterprise.enabled needs {', '.join(missing)}"
                raise ValueError(msg)
        return self


class EnterpriseHttp(_Section):
    host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    port: int = Field(default=9443, ge=0, le=65535)
    min_tls_version: Literal["1.2", "1.3"] = Field(default="1.2", description="Oldest TLS accepted.")


class EnterpriseServiceConfig(_Section):
    """The roll-up service (``enterprise.yaml``): its data, its CA, its listener."""

    kind: Literal["enterprise"] = Field(description="Marks this file as an enterprise roll-up config.")
    data_dir: Path = Field(description="Database and CA live under this directory.")
    database_url: str | None = Field(
        default=None,
        max_length=1000,
        description="SQLAlchemy URL (postgresql+psycopg://…); default: SQLite under data_dir.",
    )
    server_names: list[str] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1"],
        min_length=1,
        max_length=32,
        description="Names and addresses in the roll-up's TLS certificate (what plants connect to).",
    )
    http: EnterpriseHttp = EnterpriseHttp()
    ca_passphrase: SecretRef = Field(
        default=SecretRef(env="LINEGUARD_ENTERPRISE_CA_PASSPHRASE"),
        description="Unlocks the roll-up's CA key (issuing plant certificates).",
    )
    certificate_days: int = Field(
        default=397, ge=1, le=825, description="Validity of a plant's client certificate."
    )
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="Largest request accepted."
    )
    token_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="Validity of a person's API token when `token create` is given no --days.",
    )
    token_max_days: int = Field(
        default=90,
        ge=1,
        le=365,
        description="The longest validity `token create --days` may give a token.",
    )
    auth_failures_allowed: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Failed token checks one client address may make per window before every "
        "token from it (a correct one too) is refused until the window passes.",
    )
    auth_failure_window_s: int = Field(
        default=300, ge=1, le=86_400, description="The sliding window failed token checks are counted in."
    )
    keyring: KeyringConfig = Field(
        default=KeyringConfig(
            passphrase=SecretRef(env="LINEGUARD_ENTERPRISE_KEYRING_PASSPHRASE"),
            audit_key_label="lineguard-enterprise-audit",
        ),
        description="The roll-up's own keyring under data_dir/keys, sealing its audit checkpoint key "
        "(data_dir/audit), or the HSM holding that key (audit_key: pkcs11). Never the plant's.",
    )
    audit_checkpoint_interval_s: float = Field(
        default=300,
        ge=1,
        le=86_400,
        description="How often `serve` signs a checkpoint over its audit log (and once at shutdown).",
    )

    @model_validator(mode="after")
    def _token_days_within_max(self) -> EnterpriseServiceConfig:
        if self.token_days > self.token_max_days:
            msg = f"token_days ({self.token_days}) is over token_max_days ({self.token_max_days})"
            raise ValueError(msg)
        return self
