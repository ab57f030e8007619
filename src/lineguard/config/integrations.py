"""Integrations of the plant server (``integrations:`` in ``server.yaml``): CMMS destinations,
how work orders are retried, the signed status webhook, and the MQTT broker.

Each CMMS is one entry of ``cmms``, a discriminated union on ``kind`` (``webhook``,
``maintainx``, ``upkeep``, ``sap_pm``); the server builds one connector per entry from
a registry keyed by these classes, never from an if/elif chain. Credentials are
:class:`SecretRef` (environment or file), never values in the YAML. Every destination
must also be allowed by ``egress.allow`` (checked when the server starts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lineguard.config.secrets import SecretRef

__all__ = [
    "AssetRef",
    "CameraStalledRule",
    "CmmsDestination",
    "DefectBurstRule",
    "DeliveryPolicy",
    "IntegrationsConfig",
    "MaintainXDestination",
    "MqttConfig",
    "RecommendationRules",
    "SapPmDestination",
    "SigningKey",
    "StatusWebhookConfig",
    "UpKeepDestination",
    "WebhookDestination",
    "WorkOrderPriority",
]

_NAME = r"^[a-z0-9][a-z0-9_-]{0,31}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        msg = f"must be an https:// (or http://) URL, got {url!r}"
        raise ValueError(msg)
    if parts.username or parts.password or parts.query:
        msg = "must not carry credentials or a query: credentials go in a secret reference"
        raise ValueError(msg)
    return url.rstrip("/")


class SigningKey(_Section):
    """An HMAC-SHA256 key, named by ``key_id`` in the signature header (rotate by adding one)."""

    key_id: str = Field(
        pattern=r"^[A-Za-z0-9._-]{1,64}$", title="Key id", description="Sent with each signature."
    )
    secret: SecretRef = Field(title="Key", description="The shared secret (at least 32 characters).")


class _Destination(_Section):
    name: str = Field(
        pattern=_NAME, title="Name", description="How the dashboard, CLI and audit log name it."
    )
    enabled: bool = Field(default=True, title="Enabled", description="Off: work orders wait in the queue.")


class WebhookDestination(_Destination):
    """Any system that accepts LineGuard's signed JSON (docs/integrations.md#generic-webhook)."""

    kind: Literal["webhook"] = "webhook"
    url: str = Field(max_length=500, title="URL", description="Where work orders are POSTed.")
    signing: SigningKey = Field(title="Signing key", description="Signs every request (HMAC-SHA256).")

    _check_url = field_validator("url")(_http_url)


class MaintainXDestination(_Destination):
    """MaintainX: ``POST {base_url}/v1/workorders`` with a bearer API key."""

    kind: Literal["maintainx"] = "maintainx"
    base_url: str = Field(default="https://api.getmaintainx.com", max_length=500, title="API base URL")
    api_key: SecretRef = Field(title="API key", description="MaintainX REST API key (Bearer).")
    categories: list[str] = Field(
        default_factory=list, max_length=10, title="Categories", description="Work-order categories to set."
    )

    _check_url = field_validator("base_url")(_http_url)


class UpKeepDestination(_Destination):
    """UpKeep: ``POST {base_url}/work-orders`` with a session token."""

    kind: Literal["upkeep"] = "upkeep"
    base_url: str = Field(default="https://api.onupkeep.com/api/v2", max_length=500, title="API base URL")
    session_token: SecretRef = Field(title="Session token", description="UpKeep 'Session-Token' header.")

    _check_url = field_validator("base_url")(_http_url)


class SapPmDestination(_Destination):
    """SAP PM: a maintenance notification through OData ``API_MAINTNOTIFICATION``."""

    kind: Literal["sap_pm"] = "sap_pm"
    service_url: str = Field(
        max_length=500,
        title="OData service URL",
        description="…/sap/opu/odata/sap/API_MAINTNOTIFICATION (entity MaintenanceNotification is appended).",
    )
    username: str = Field(
        min_length=1, max_length=64, title="User", description="Technical user (basic auth)."
    )
    password: SecretRef = Field(title="Password")
    sap_client: str | None = Field(
        default=None, pattern=r"^[0-9]{3}$", title="SAP client", description="sap-client, if not the default."
    )
    notification_type: str = Field(
        default="M2",
        pattern=r"^[A-Z0-9]{2}$",
        title="Notification type",
        description="M1/M2 in most systems.",
    )

    _check_url = field_validator("service_url")(_http_url)


CmmsDestination = Annotated[
    WebhookDestination | MaintainXDestination | UpKeepDestination | SapPmDestination,
    Field(discriminator="kind"),
]


class AssetRef(_Section):
    """What a line (or ``line/station``) is called in the CMMS."""

    asset_id: str | None = Field(default=None, max_length=64, title="Asset id")
    location_id: str | None = Field(default=None, max_length=64, title="Location id")


class DeliveryPolicy(_Section):
    """Retries: exponential backoff with jitter, then the dead-letter queue."""

    max_attempts: int = Field(default=8, ge=1, le=50, title="Attempts before dead letter")
    backoff_base_s: float = Field(default=2.0, ge=0.01, le=600, title="First retry delay (s)")
    backoff_max_s: float = Field(default=900.0, ge=0.01, le=86_400, title="Longest retry delay (s)")
    poll_interval_s: float = Field(default=2.0, ge=0.01, le=600, title="Queue poll interval (s)")
    batch: int = Field(default=20, ge=1, le=500, title="Deliveries per round")
    lease_s: float = Field(
        default=120.0, ge=1, le=3600, title="Lease (s)", description="How long one sender owns a delivery."
    )


class StatusWebhookConfig(_Section):
    """The CMMS tells LineGuard a work order was closed: a signed POST (same scheme as outbound)."""

    keys: list[SigningKey] = Field(min_length=1, max_length=8, title="Accepted keys")
    window_s: int = Field(
        default=300,
        ge=10,
        le=3600,
        title="Replay window (s)",
        description="Largest clock difference accepted.",
    )


class MqttConfig(_Section):
    """Inspection metadata to the OT side's MQTT broker (QoS 1)."""

    url: str = Field(
        max_length=300, title="Broker", description="mqtts://host:8883 (or mqtt:// on a lab bench)."
    )
    client_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$", title="Client id")
    username: str | None = Field(default=None, max_length=64, title="User")
    password: SecretRef | None = Field(default=None, title="Password")
    client_cert: Path | None = Field(default=None, title="Client certificate (PEM)")
    client_key: Path | None = Field(default=None, title="Client key (PEM)")
    topic_prefix: str = Field(
        default="lineguard", pattern=r"^[A-Za-z0-9_-]{1,32}(/[A-Za-z0-9_-]{1,32}){0,3}$", title="Topic prefix"
    )
    sparkplug: bool = Field(
        default=False, title="Sparkplug B", description="Publish Sparkplug B (spBv1.0) too."
    )
    sparkplug_group: str = Field(
        default="lineguard", pattern=r"^[A-Za-z0-9_-]{1,32}$", title="Sparkplug group id"
    )
    publish_interval_s: float = Field(default=1.0, ge=0.05, le=600, title="Publish interval (s)")
    batch: int = Field(default=200, ge=1, le=5000, title="Messages per round")

    @field_validator("url")
    @classmethod
    def _broker_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in {"mqtts", "mqtt"} or not parts.hostname or parts.port is None:
            msg = f"must look like mqtts://broker:8883, got {url!r}"
            raise ValueError(msg)
        return url

    @model_validator(mode="after")
    def _cert_with_key(self) -> MqttConfig:
        if (self.client_cert is None) != (self.client_key is None):
            msg = "give both client_cert and client_key, or neither"
            raise ValueError(msg)
        return self


WorkOrderPriority = Literal["low", "medium", "high", "urgent"]


class DefectBurstRule(_Section):
    """ "N defects of one class on a line within W minutes" → a work-order recommendation."""

    enabled: bool = Field(default=True, title="Enabled")
    defects: int = Field(default=3, ge=2, le=1000, title="Defects", description="Defect alerts of one class…")
    window_minutes: int = Field(
        default=10, ge=1, le=1440, title="Window (min)", description="…within this long."
    )
    priority: WorkOrderPriority = Field(default="high", title="Priority")


class CameraStalledRule(_Section):
    """A camera that failed, ended, or sent no health for a while → a work-order recommendation."""

    enabled: bool = Field(default=True, title="Enabled")
    after_minutes: int = Field(
        default=5, ge=1, le=1440, title="Silence (min)", description="No health this long."
    )
    priority: WorkOrderPriority = Field(default="medium", title="Priority")


class RecommendationRules(_Section):
    """Rules the server evaluates itself, beside the work-order triggers nodes send."""

    defect_burst: DefectBurstRule = DefectBurstRule()
    camera_stalled: CameraStalledRule = CameraStalledRule()
    interval_s: float = Field(default=5.0, ge=0.05, le=3600, title="Evaluation interval (s)")


class IntegrationsConfig(_Section):
    cmms: list[CmmsDestination] = Field(default_factory=list, max_length=16, title="CMMS destinations")
    delivery: DeliveryPolicy = DeliveryPolicy()
    status_webhook: StatusWebhookConfig | None = Field(default=None, title="Status webhook")
    assets: dict[str, AssetRef] = Field(
        default_factory=dict,
        max_length=1000,
        title="Asset map",
        description="'line' or 'line/station' → asset and location ids in the CMMS.",
    )
    mqtt: MqttConfig | None = Field(default=None, title="MQTT")
    rules: RecommendationRules = RecommendationRules()

    @model_validator(mode="after")
    def _unique_names(self) -> IntegrationsConfig:
        names = [d.name for d in self.cmms]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            msg = f"CMMS destination names must be unique: {', '.join(duplicates)}"
            raise ValueError(msg)
        return self
