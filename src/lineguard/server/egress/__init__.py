"""The egress gate: every outbound connection of the plant server goes through here.

* :class:`EgressGate` — checks a :class:`Destination` (scheme, host, port) against the
  allowlist in ``server.yaml`` (``egress:``), resolves the name once, refuses
  rebinding to a disallowed address, pins TLS to the rule's CA; ``open_tcp`` /
  ``open_tls`` / ``open_udp`` for socket protocols (syslog, MQTT).
* :class:`GatedHttp` — HTTP(S) through the gate, redirects re-checked, bodies capped.
* :func:`build_gate` — the gate of a server, denials audited as ``egress.denied``.

Nothing else in ``lineguard.server`` may open a socket to the outside; the
end-to-end test watches ``socket.connect`` with an audit hook to prove it.
"""

from lineguard.server.egress.allowlist import Destination, IpAddress
from lineguard.server.egress.gate import ClientChain, Denial, EgressGate, Pass, Resolver, system_resolver
from lineguard.server.egress.http import GatedHttp, HttpResult
from lineguard.server.egress.mqtt import GatedMqttClient, mqtt_destination
from lineguard.server.egress.service import EGRESS_ACTOR, build_gate

__all__ = [
    "EGRESS_ACTOR",
    "ClientChain",
    "Denial",
    "Destination",
    "EgressGate",
    "GatedHttp",
    "GatedMqttClient",
    "HttpResult",
    "IpAddress",
    "Pass",
    "Resolver",
    "build_gate",
    "mqtt_destination",
    "system_resolver",
]
