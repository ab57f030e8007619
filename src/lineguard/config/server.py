"""Configuration of the plant server (``server.yaml``)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lineguard.config.assistant import AssistantConfig
from lineguard.config.egress import EgressConfig
from lineguard.config.enterprise import EnterpriseRollupConfig
from lineguard.config.erp import TrytonErpConfig
from lineguard.config.governance import GovernanceConfig
from lineguard.config.integrations import IntegrationsConfig
from lineguard.config.keyring import KeyringConfig, Pkcs11Config
from lineguard.config.secrets import SecretRef

__all__ = [
    "AssistantConfig",
    "AuthConfig",
    "DashboardConfig",
    "DatabaseConfig",
    "GovernanceConfig",
    "HttpConfig",
    "IngestLimits",
    "IngestMqttConfig",
    "KeyringConfig",
    "Pkcs11Config",
    "PkiConfig",
    "RegistryConfig",
    "RetentionConfig",
    "ReviewConfig",
    "SafetyConfig",
    "ServerConfig",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpConfig(_Section):
    host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    port: int = Field(default=8443, ge=0, le=65535)
    min_tls_version: Literal["1.2", "1.3"] = Field(default="1.2", description="Oldest TLS accepted.")
    workers: int = Field(
        default=1, ge=1, le=64, description="Server processes sharing the port (use the number of cores)."
    )
    replicas: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Servers behind one load balancer on one PostgreSQL, this one included "
        "(docs/deployment.md); more than 1 needs database.url on PostgreSQL.",
    )
    internal_host: str = Field(
        default="127.0.0.1",
        max_length=253,
        title="Internal relay address",
        description="Where this server process listens for the other replicas' (and workers') "
        "evidence-view hand-offs, mutual TLS with replica certificates; the address the others "
        "dial, so with replicas on several hosts it is this host's address on the plant network "
        "(docs/deployment.md). Used only when http.workers or http.replicas is above 1.",
    )
    internal_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        title="Internal relay port",
        description="0 picks a free port per process (each worker needs its own); the port in use "
        "is registered in the database.",
    )

    internal_advertised_host: str | None = Field(
        default=None,
        max_length=253,
        title="Advertised internal relay address",
        description="The address the other replicas dial to reach this process's internal relay, "
        "when it differs from internal_host: a replica behind NAT or in a container listens on "
        "its inside address and is reached on the outside one. An IP address or DNS name, "
        "never a wildcard; it is the replica certificate's SAN. Default: internal_host.",
    )
    internal_advertised_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        title="Advertised internal relay port",
        description="The port the other replicas dial when a forwarder maps it to internal_port; "
        "0 (default) means the port the listener bound. Needs a fixed internal_port.",
    )

    internal_max_handoffs: int = Field(
        default=8,
        ge=1,
        le=64,
        title="Relay hand-offs answered at once",
        description="Evidence-view hand-offs one process's internal relay answers at once; the next "
        "is refused (rate_limited) before its body is read. Each may carry up to 8 MiB, so this "
        "bounds the memory incoming hand-offs take (8 x 8 MiB by default).",
    )
    internal_max_held_mib: int = Field(
        default=128,
        ge=8,
        le=4096,
        title="Evidence images held per process (MiB)",
        description="Image bytes one process holds for the views it owns until they are fetched; "
        "one more is refused (429) and its view keeps waiting. At least 8 (one largest image).",
    )
    internal_certificate_hours: float = Field(
        default=24.0,
        ge=1.0,
        le=720.0,
        title="Replica certificate lifetime (hours)",
        description="Lifetime of the replica certificate each process issues itself for the "
        "internal relay; shorter limits how long a stolen one works, revocation stops it at once.",
    )
    internal_renew_fraction: float = Field(
        default=0.5,
        ge=0.1,
        le=0.9,
        title="Renew the replica certificate when this fraction of its lifetime is left",
        description="0.5 (default): a 24 h certificate is renewed with 12 h left, judged on its "
        "notAfter and the wall clock; a failed renewal is retried at every heartbeat.",
    )

    @model_validator(mode="after")
    def _one_internal_port_per_process(self) -> HttpConfig:
        if self.workers > 1 and self.internal_port != 0:
            msg = (
                f"http.internal_port is {self.internal_port}, but each of the {self.workers} workers "
                "listens on its own internal relay port: leave internal_port at 0"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _an_address_the_others_can_dial(self) -> HttpConfig:
        if self.internal_advertised_host is not None:
            _check_dialable(self.internal_advertised_host, "http.internal_advertised_host")
        elif self.workers > 1 or self.replicas > 1:
            _check_dialable(self.internal_host, "http.internal_host")
        if self.internal_advertised_port and not self.internal_port:
            msg = (
                f"http.internal_advertised_port is {self.internal_advertised_port}, but "
                "http.internal_port is 0 (a free port chosen at start, which no forwarder can know): "
                "give internal_port the port the forwarder sends to"
            )
            raise ValueError(msg)
        return self


_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _check_dialable(host: str, key: str) -> None:
    """An IP address (not a wildcard) or a DNS name another replica can dial and verify."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host.endswith(".") or not all(_HOST_LABEL.match(label) for label in host.split(".")):
            msg = f"{key} is {host[:80]!r}: expected an IP address or a DNS name"
            raise ValueError(msg) from None
        return
    if address.is_unspecified:
        msg = (
            f"{key} is {host}, a wildcard the other replicas cannot dial: bind internal_host to it "
            "if you must, and set http.internal_advertised_host to the address they reach"
        )
        raise ValueError(msg)


class DatabaseConfig(_Section):
    url: str | None = Field(
        default=None,
        max_length=1024,
        description="SQLAlchemy URL; default is SQLite (WAL) under data_dir. Put no password here: "
        "use 'password' below.",
    )
    password: SecretRef | None = Field(default=None, description="Database password, if any.")
    pool_size: int = Field(default=5, ge=1, le=100)

    @field_validator("url")
    @classmethod
    def _no_inline_password(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parsed = urlsplit(url)
        if parsed.scheme.split("+")[0] not in {"sqlite", "postgresql"}:
            msg = "must be a sqlite:// or postgresql:// URL"
            raise ValueError(msg)
        if parsed.password:
            msg = "must not contain a password: reference it with database.password instead"
            raise ValueError(msg)
        return url


class IngestMqttConfig(_Section):
    """Node batches over the plant's MQTT broker instead of (or besides) HTTPS (docs/server.md)."""

    url: str = Field(max_length=300, title="Broker", description="mqtts://broker:8883")
    client_id: str = Field(
        default="lineguard-ingest",
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        title="Client id",
        description="A persistent session: the broker keeps QoS 1 batches for it while the server is down.",
    )
    client_cert: Path = Field(title="Client certificate (PEM)", description="The server's, for the broker.")
    client_key: Path = Field(title="Client key (PEM)")
    topic_prefix: str = Field(
        default="lineguard/nodes",
        pattern=r"^[A-Za-z0-9_-]{1,32}(/[A-Za-z0-9_-]{1,32}){0,3}$",
        title="Topic prefix",
        description="Nodes publish to <prefix>/<node_id>/batch and <prefix>/<node_id>/heartbeat.",
    )

    @field_validator("url")
    @classmethod
    def _broker_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme != "mqtts" or not parts.hostname or parts.port is None:
            msg = f"must look like mqtts://broker:8883 (TLS only), got {url!r}"
            raise ValueError(msg)
        return url


class IngestLimits(_Section):
    max_request_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    requests_per_second: float = Field(default=100.0, gt=0, le=100_000, description="Per node.")
    burst: int = Field(default=200, ge=1, le=100_000)
    mqtt: IngestMqttConfig | None = Field(default=None, description="Consume node batches from MQTT too.")


class PkiConfig(_Section):
    """The plant CA, the server's TLS certificate and node client certificates."""

    ca_passphrase: SecretRef = Field(
        default=SecretRef(env="LINEGUARD_CA_PASSPHRASE"),
        description="Encrypts the plant CA's private key at rest.",
    )
    server_names: list[str] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1"],
        min_length=1,
        max_length=32,
        description="Host names and IP addresses nodes and browsers use to reach the server "
        "(put in the server certificate).",
    )
    node_cert_days: float = Field(
        default=7, ge=0.01, le=90, description="Lifetime of a node client certificate; nodes renew at 2/3."
    )
    enrollment_token_hours: float = Field(
        default=24, ge=0.05, le=720, description="How long an unused enrollment token stays valid."
    )
    renewal_grace_hours: float = Field(
        default=24,
        ge=0.01,
        le=168,
        description="After a renewal, how long the previous node certificate stays accepted while the "
        "renewed one has not been presented (an answer lost on the way): it ends earlier, at the "
        "renewed certificate's first use. See docs/security.md.",
    )


class AuthConfig(_Section):
    """Accounts, sessions and API tokens (``lineguard.server.auth``)."""

    session_idle_minutes: int = Field(
        default=15, ge=1, le=240, description="A browser session ends after this long without a request."
    )
    session_absolute_hours: float = Field(
        default=8, ge=0.25, le=24, description="A browser session ends this long after sign-in (a shift)."
    )
    lockout_threshold: int = Field(
        default=5,
        ge=3,
        le=20,
        description="Consecutive failed sign-ins (password or code) that lock an account.",
    )
    lockout_minutes: int = Field(
        default=15, ge=1, le=1440, description="First lockout; each further lockout doubles it (max one day)."
    )
    login_attempts_per_minute: int = Field(
        default=20, ge=1, le=10_000, description="Sign-in attempts accepted per source address per minute."
    )
    password_min_length: int = Field(default=12, ge=12, le=128, description="Shortest password accepted.")
    api_token_max_days: int = Field(default=90, ge=1, le=365, description="Longest lifetime of an API token.")
    argon2_time_cost: int = Field(default=3, ge=1, le=20, description="argon2id iterations.")
    argon2_memory_kib: int = Field(default=65_536, ge=8, le=4_194_304, description="argon2id memory (KiB).")
    argon2_parallelism: int = Field(default=4, ge=1, le=64, description="argon2id lanes.")


class RetentionConfig(_Section):
    """Days each category is kept; the sweeper deletes (crypto-shreds) what is older."""

    inspection_events_days: int = Field(default=365, ge=1, le=36_500)
    alerts_days: int = Field(default=365, ge=1, le=36_500)
    evidence_refs_days: int = Field(default=90, ge=1, le=36_500)
    plant_data_days: int = Field(default=730, ge=1, le=36_500)
    assistant_questions_days: int = Field(
        default=180, ge=1, le=36_500, description="Questions asked of the assistant and its answers (sealed)."
    )
    user_sessions_days: int = Field(default=30, ge=1, le=36_500)
    ppe_counts_days: int = Field(
        default=90, ge=1, le=36_500, description="Hourly PPE counts per zone (aggregates; no person in them)."
    )
    audit_log_days: int = Field(
        default=2555, ge=365, le=36_500, description="Audit records are kept at least one year."
    )
    sweep_interval_s: int = Field(default=3600, ge=10, le=604_800)


class RegistryConfig(_Section):
    """The model registry's TUF repository (``lineguard.server.registry``, docs/model-updates.md)."""

    tuf_passphrase: SecretRef | None = Field(
        default=None,
        title="TUF key passphrase",
        description="Encrypts the TUF role keys at rest; default: the keyring passphrase.",
    )
    root_keys: int = Field(default=2, ge=1, le=9, description="Keys of the TUF root role.")
    root_threshold: int = Field(default=2, ge=1, le=9, description="Root signatures a new root needs.")
    root_days: float = Field(default=365, ge=1, le=3650, description="Lifetime of root metadata.")
    targets_days: float = Field(default=30, ge=1, le=365, description="Lifetime of targets metadata.")
    snapshot_days: float = Field(default=7, ge=0.1, le=90, description="Lifetime of snapshot metadata.")
    timestamp_days: float = Field(
        default=1, ge=0.01, le=30, description="Lifetime of timestamp metadata: how long a frozen view lasts."
    )

    @model_validator(mode="after")
    def _threshold_within_keys(self) -> RegistryConfig:
        if self.root_threshold > self.root_keys:
            msg = f"root_threshold {self.root_threshold} exceeds root_keys {self.root_keys}"
            raise ValueError(msg)
        return self


class ReviewConfig(_Section):
    """The review workflow of AI output (``lineguard.server.review``, docs/review.md)."""

    escalate_after_minutes: int = Field(
        default=30,
        ge=1,
        le=10_080,
        title="Escalate after",
        description="An item still unacknowledged this many minutes after it was raised is escalated.",
    )
    escalate_to: Literal[
        "quality_engineer",
        "maintenance_technician",
        "production_supervisor",
        "it_administrator",
    ] = Field(
        default="production_supervisor",
        title="Escalation role",
        description="The role an overdue item is escalated to (it appears in that role's escalation list).",
    )
    sweep_interval_s: int = Field(
        default=60, ge=1, le=86_400, description="How often overdue items are looked for."
    )


class SafetyConfig(_Section):
    """PPE counts on the server (``lineguard.server.ppe``, docs/inspection.md)."""

    ppe_min_count: int = Field(
        default=5,
        ge=3,
        le=1000,
        title="PPE minimum count",
        description="Counts from 1 to this minus 1 are suppressed again on the server, whatever the node "
        "sent, and after adding rows up.",
    )


class DashboardConfig(_Section):
    """The dashboard's settings (``lineguard.server.dashboard``, docs/dashboard.md)."""

    ground_truth_file: Path | None = Field(
        default=None,
        title="Ground truth",
        description=(
            "A JSON file of parts whose true verdict is known (a validation run on a golden set, "
            "or the demo's synthetic line): the overview scores the AI's part verdicts against "
            "it (part-level recall and false-reject rate). None: no such score."
        ),
    )


class ServerConfig(_Section):
    kind: Literal["server"] = Field(description="Marks this file as a plant-server config.")
    site_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="Plant or site name.")
    data_dir: Path = Field(description="Database, CA, keyring and backups live under this directory.")
    http: HttpConfig = HttpConfig()
    database: DatabaseConfig = DatabaseConfig()
    ingest: IngestLimits = IngestLimits()
    keyring: KeyringConfig = KeyringConfig()
    pki: PkiConfig = PkiConfig()
    auth: AuthConfig = AuthConfig()
    retention: RetentionConfig = RetentionConfig()
    registry: RegistryConfig = RegistryConfig()
    egress: EgressConfig = EgressConfig()
    governance: GovernanceConfig = GovernanceConfig()
    review: ReviewConfig = ReviewConfig()
    dashboard: DashboardConfig = DashboardConfig()
    safety: SafetyConfig = SafetyConfig()
    integrations: IntegrationsConfig = IntegrationsConfig()
    erp: TrytonErpConfig | None = Field(
        default=None, description="The ERP that `lineguard data sync erp` reads plant data from."
    )
    assistant: AssistantConfig = AssistantConfig()
    enterprise: EnterpriseRollupConfig = EnterpriseRollupConfig()

    @model_validator(mode="after")
    def _replicas_share_postgresql(self) -> ServerConfig:
        url = self.database.url or ""
        if self.http.replicas > 1 and not url.startswith("postgresql"):
            msg = (
                f"http.replicas is {self.http.replicas}, but replicas share one database and "
                "coordinate through PostgreSQL: set database.url to a postgresql:// URL"
            )
            raise ValueError(msg)
        return self
