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

A renewed certificate is followed (``follow`` + ``rebuild``): the client's TLS context is
fixed once paho has it, and paho's own reconnects present the certificate it was built
with, so after a renewal the broker would see the superseded certificate until the node
restarted, and after ``lineguard ca retire`` (the broker's cafile holding the new CA only)
never connect again. Before each publish the transport stats the identity files (one
``stat`` each, :func:`~lineguard.crypto.files_signature`); when they were replaced it
builds a fresh context and a fresh client, drops the old connection and connects with
the renewed certificate. A publish in between fails as an unreachable broker does: the
outbox keeps the batch and sends it again.

paho-mqtt is imported when a transport is built, so a node on HTTPS never loads it.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lineguard.contracts.events import IngestBatch, NodeHeartbeat
from lineguard.crypto import files_signature
from lineguard.edge.outbox.transport import TransportUnavailableError

log = logging.getLogger(__name__)

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
        follow: Sequence[Path] = (),
        rebuild: Callable[[], ssl.SSLContext] | None = None,
    ) -> None:
        """``follow``: the identity files (``node.pem``, ``ca.crt.pem``) whose replacement
        means a renewal; ``rebuild`` makes the TLS context from them again."""
        self.topic = f"{topic_prefix}/{node_id}"
        self.ack_timeout_s = ack_timeout_s
        self._address = (host, port)
        self._client_id = f"lineguard-node-{node_id}"
        self._follow = tuple(follow)
        self._rebuild = rebuild
        self._seen = files_signature(*self._follow)
        self._lock = threading.Lock()
        #: Clients replaced after a renewal (each: a new connection with the renewed certificate).
        self.reconnects = 0
        self._client: Any = self._connect(ssl_context)

    def _connect(self, ssl_context: ssl.SSLContext) -> Any:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self._client_id, protocol=mqtt.MQTTv311)
        client.tls_set_context(ssl_context)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.connect_async(*self._address, keepalive=30)
        client.loop_start()
        return client

    def _follow_renewal(self) -> None:
        """A fresh client when the identity files were replaced (a renewal); else nothing."""
        if self._rebuild is None:
            return
        seen = files_signature(*self._follow)
        if seen == self._seen:
            return
        with self._lock:
            if seen == self._seen:
                return
            try:
                context = self._rebuild()
            except (OSError, ValueError) as exc:  # ssl.SSLError too: caught mid-write; look again next time
                log.warning("node credentials changed but cannot be loaded yet: %s", exc)
                return
            old, self._seen = self._client, seen
            # The old client first: the broker allows one session per client id, and two
            # clients reconnecting under one id would take it from each other.
            old.disconnect()
            old.loop_stop()
            self._client = self._connect(context)
            self.reconnects += 1
        log.info("node credentials changed: reconnecting to the MQTT broker with the renewed certificate")
        deadline = time.monotonic() + min(self.ack_timeout_s, 5.0)
        while not self._client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.05)

    @property
    def connected(self) -> bool:
        return bool(self._client.is_connected())

    def _publish(self, kind: str, body: bytes) -> None:
        self._follow_renewal()
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
