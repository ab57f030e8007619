"""The outbox over the plant's MQTT broker: an alternative :class:`~.transport.Transport`.

``send_batch`` publishes the batch's JSON to ``<prefix>/<node_id>/batch`` with QoS 1 and
returns only once the broker acknowledged it (PUBACK); until then it raises
:class:`~.transport.TransportUnavailableError` and the outbox keeps the items, exactly as
it does when an HTTPS post fails. The broker identifies the node by its client
certificate from the plant CA and lets it publish only under its own id (topic ACL); the
server consumes with the HTTPS route's checks, deduplicates by idempotency key and
audits (``lineguard.server.ingest.mqtt``). A batch the broker received but whose PUBACK
was lost is sent again and stored once.

Unlike HTTPS, the node learns nothing of a refusal (a contract error, a revoked node):
the server audits ``ingest.batch_rejected`` and the batch is gone from the outbox. That
is the price of a broker in between; HTTPS stays the default transport.

paho-mqtt is imported when a transport is built, so a node on HTTPS never loads it.
"""

from __future__ import annotations

import ssl
from typing import Any

from lineguard.contracts.events import IngestBatch, NodeHeartbeat
from lineguard.edge.outbox.transport import TransportUnavailableError

__all__ = ["MqttTransport"]


class MqttTransport:
    """Publishes a node's batches and heartbeats to one broker, one connection kept open."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        node_id: str,
        ssl_context: ssl.SSLContext,
        topic_prefix: str = "lineguard/nodes",
        ack_timeout_s: float = 10.0,
    ) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.topic = f"{topic_prefix}/{node_id}"
        self.ack_timeout_s = ack_timeout_s
        self._client: Any = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"lineguard-node-{node_id}", protocol=mqtt.MQTTv311
        )
        self._client.tls_set_context(ssl_context)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.connect_async(host, port, keepalive=30)
        self._client.loop_start()

    @property
    def connected(self) -> bool:
        return bool(self._client.is_connected())

    def _publish(self, kind: str, body: bytes) -> None:
        if not self._client.is_connected():
            msg = f"not connected to the MQTT broker; {kind} kept in the outbox"
            raise TransportUnavailableError(msg)
        info = self._client.publish(f"{self.topic}/{kind}", body, qos=1)
        try:
            info.wait_for_publish(self.ack_timeout_s)
        except (RuntimeError, ValueError) as exc:
            msg = f"the MQTT broker did not take the {kind}: {exc}"
            raise TransportUnavailableError(msg) from None
        if not info.is_published():
            msg = f"no PUBACK from the MQTT broker within {self.ack_timeout_s:g} s; {kind} kept in the outbox"
            raise TransportUnavailableError(msg)

    def send_batch(self, batch: IngestBatch) -> None:
        self._publish("batch", batch.model_dump_json().encode())

    def send_heartbeat(self, heartbeat: NodeHeartbeat) -> None:
        self._publish("heartbeat", heartbeat.model_dump_json().encode())

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
