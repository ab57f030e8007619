"""A paho-mqtt client whose every connection goes through the egress gate.

paho opens its own TCP connection in ``_create_socket_connection`` (and again on each
automatic reconnect); this subclass replaces exactly that step with
:meth:`EgressGate.open_tcp`, so the broker is resolved once per connection, checked
against the allowlist and connected at the checked address. paho then wraps the socket
in TLS with the broker's *name* as ``server_hostname``, using the context the gate built
from the rule's pinned CA and the server's client certificate. paho-mqtt is pinned
(requirements/constraints.txt) because this hook is one of its private methods; the
broker tests would fail on a version that renamed it.

Used by the MQTT publisher (``integrations``) and by node ingest over MQTT (``ingest``).
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from lineguard.contracts.errors import ConfigError, EgressDeniedError, UpstreamError
from lineguard.server.egress.allowlist import Destination
from lineguard.server.egress.gate import ClientChain, EgressGate

__all__ = ["GatedMqttClient", "mqtt_destination"]


def mqtt_destination(url: str) -> Destination:
    """The broker of an ``mqtt(s)://host:port`` URL (validated by its config section)."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None  # noqa: S101 - validated by the config
    return Destination(scheme=parts.scheme, host=parts.hostname, port=parts.port)


class GatedMqttClient(mqtt.Client):
    def __init__(
        self,
        gate: EgressGate,
        *,
        url: str,
        client_id: str,
        setting: str,
        client_chain: ClientChain | None = None,
        username: str | None = None,
        password: str | None = None,
        clean_session: bool = True,
    ) -> None:
        """``setting`` names the config key of ``url``, for the error when egress does not allow it."""
        super().__init__(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=clean_session,
        )
        self.destination = mqtt_destination(url)
        rule = gate.rule_for(self.destination)
        if rule is None:
            msg = "the MQTT broker must be allowed by the egress allowlist"
            raise ConfigError(msg, details=[f"{setting}: {self.destination} is not in egress.allow"])
        self._gate = gate
        if username is not None:
            self.username_pw_set(username, password)
        if self.destination.scheme == "mqtts":
            self.tls_set_context(gate.tls_context(rule, client_chain=client_chain))
        self.reconnect_delay_set(min_delay=1, max_delay=30)

    def _create_socket_connection(self) -> socket.socket:
        try:
            return self._gate.open_tcp(self.destination, purpose="mqtt", timeout_s=self._connect_timeout)
        except (UpstreamError, EgressDeniedError) as exc:
            # paho retries OSErrors (reconnect with backoff); the denial itself is already audited.
            raise ConnectionRefusedError(exc.message) from None
