"""Where the plant server may connect: the egress allowlist (``egress:`` in ``server.yaml``).

Every outbound connection of the server (CMMS, MQTT broker, SIEM) goes through
``lineguard.server.egress``, which refuses anything no rule here allows. A rule names
one scheme, one host and one port; a host pattern with a wildcard (``*.plant.local``)
is refused unless ``allow_wildcards`` is set. ``ca_file`` pins the TLS trust of that
destination to one CA bundle instead of the system store, and ``addresses`` pins the
addresses its name may resolve to (DNS rebinding protection beyond resolve-once).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["EgressConfig", "EgressRule", "EgressScheme"]

#: What a connection speaks; the gate checks it as part of the destination.
EgressScheme = Literal["https", "http", "mqtts", "mqtt", "syslog+tls", "syslog+tcp", "syslog+udp"]

_HOST = r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^[0-9A-Fa-f:.]{2,45}$"


class EgressRule(BaseModel):
    """One allowed destination: scheme, host and port, all three exact."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scheme: EgressScheme = Field(title="Scheme", description="Protocol of the connection.")
    host: str = Field(
        pattern=_HOST,
        max_length=253,
        title="Host",
        description="Host name or IP address, compared case-insensitively; '*.' prefix only with "
        "allow_wildcards.",
    )
    port: int = Field(ge=1, le=65535, title="Port", description="TCP/UDP port.")
    ca_file: Path | None = Field(
        default=None,
        title="Pinned CA",
        description="PEM bundle: the only CAs trusted for this destination's TLS certificate "
        "(default: the system trust store).",
    )
    addresses: list[str] = Field(
        default_factory=list,
        max_length=32,
        title="Allowed addresses",
        description="Networks (CIDR) the host name must resolve into; empty: any address except "
        "link-local, multicast, reserved and unspecified ones.",
    )
    purpose: str = Field(
        default="", max_length=200, title="Purpose", description="Why the server talks to it (shown)."
    )

    @field_validator("host")
    @classmethod
    def _lower(cls, host: str) -> str:
        return host.lower()

    @field_validator("addresses")
    @classmethod
    def _networks(cls, addresses: list[str]) -> list[str]:
        for a in addresses:
            try:
                ipaddress.ip_network(a, strict=False)
            except ValueError:
                msg = f"{a!r} is not an IP network (CIDR such as 10.1.2.0/24 or 10.1.2.3/32)"
                raise ValueError(msg) from None
        return addresses

    @property
    def is_wildcard(self) -> bool:
        return self.host.startswith("*.")

    def describe(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


class EgressConfig(BaseModel):
    """The egress allowlist and the limits every outbound connection runs under."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow: list[EgressRule] = Field(
        default_factory=list,
        max_length=200,
        title="Allowlist",
        description="Destinations the server may connect to; everything else is refused and audited.",
    )
    allow_wildcards: bool = Field(
        default=False,
        title="Allow wildcard hosts",
        description="Accept '*.domain' host patterns in the allowlist (off: every host is exact).",
    )
    max_redirects: int = Field(
        default=0,
        ge=0,
        le=5,
        title="HTTP redirects followed",
        description="Redirects followed per request, each checked against the allowlist.",
    )
    connect_timeout_s: float = Field(default=5.0, gt=0, le=120, title="Connect timeout (s)")
    read_timeout_s: float = Field(default=15.0, gt=0, le=600, title="Read timeout (s)")
    max_response_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        le=64 * 1_048_576,
        title="Largest response",
        description="An HTTP response body larger than this is refused.",
    )

    @model_validator(mode="after")
    def _wildcards_need_opt_in(self) -> EgressConfig:
        wild = [r.describe() for r in self.allow if r.is_wildcard]
        if wild and not self.allow_wildcards:
            msg = f"wildcard hosts need 'allow_wildcards: true': {', '.join(wild)}"
            raise ValueError(msg)
        return self
