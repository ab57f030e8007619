"""``lineguard integrations test`` / ``POST …/test``: can the server reach a destination?

A probe is a plain ``GET`` of the destination's URL through the egress gate, without
credentials and without creating anything: it proves the allowlist, DNS, TCP and the
TLS certificate (against the pinned CA), and reports the HTTP status the CMMS gave.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from lineguard.contracts.errors import EgressDeniedError, UpstreamError
from lineguard.server.egress import EgressGate, GatedHttp
from lineguard.server.integrations.connectors import Connector

__all__ = ["ProbeResult", "probe"]


class ProbeResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    destination: str
    target: str
    reachable: bool
    http_status: int | None
    error: str | None


def probe(connector: Connector, gate: EgressGate) -> ProbeResult:
    try:
        result = GatedHttp(gate, purpose=f"cmms:{connector.name}:test").request("GET", connector.target)
    except (UpstreamError, EgressDeniedError) as exc:
        return ProbeResult(
            destination=connector.name,
            target=connector.target,
            reachable=False,
            http_status=None,
            error=exc.message,
        )
    return ProbeResult(
        destination=connector.name,
        target=connector.target,
        reachable=True,
        http_status=result.status,
        error=None,
    )
