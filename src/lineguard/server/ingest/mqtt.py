"""Node batches over MQTT: the same checks, idempotency and audit as ``POST /ingest/batch``.

A node may publish its outbox to the plant's broker instead of posting it over HTTPS:
``<prefix>/<node_id>/batch`` (an ``IngestBatch``) and ``<prefix>/<node_id>/heartbeat``
(a ``NodeHeartbeat``), QoS 1. Who may publish where is the broker's job: TLS with client
certificates from the plant CA, the certificate's name as the user name, and an ACL
that lets each node write only under its own id (``pattern write <prefix>/%u/#``), so
the topic names the sender. The server then checks, in the HTTPS route's order: the node
is enrolled and not revoked (the broker knows nothing of revocations), the contract, the
node's ownership of every item; and stores through :func:`.service.ingest_batch`, which
deduplicates by ``(node_id, idempotency_key)`` and audits ``ingest.batch_accepted``. A
refused batch is audited ``ingest.batch_rejected`` and acknowledged (resending cannot
help), exactly as a 4xx answer would be.

Nothing is lost: the subscription is a persistent session (``clean_session`` false, one
fixed client id), so the broker keeps QoS 1 messages while the server is down; a message
is acknowledged (PUBACK) only after its transaction committed or it was refused for good,
and a database failure is retried in place until it succeeds or the server stops — then
it stays unacknowledged and the broker delivers it again. A batch delivered twice is
stored once. The node keeps each batch in its outbox until the broker's PUBACK, so with
broker persistence on, a broker restart loses nothing either.

With several replicas one of them consumes: it leads the ``mqtt-ingest`` duty
(``storage.Leadership``); two would share one client id and take the session from each
other.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from lineguard.config.server import IngestMqttConfig
from lineguard.contracts.errors import LineGuardError
from lineguard.contracts.events import IngestBatch, NodeHeartbeat
from lineguard.contracts.validation import parse_message
from lineguard.server.context import ServerContext
from lineguard.server.egress import GatedMqttClient
from lineguard.server.ingest import service
from lineguard.server.nodes import active_identity

__all__ = ["LEADER_DUTY", "MqttIngest", "Outcome", "handle_message", "route"]

log = logging.getLogger(__name__)

#: The name under which one replica consumes.
LEADER_DUTY = "mqtt-ingest"
_RETRY_MAX_S = 10.0


@dataclass(frozen=True)
class Outcome:
    """What became of one message: ``stored`` / ``duplicates`` items, or ``refused`` with why."""

    node_id: str
    kind: str
    stored: int = 0
    duplicates: int = 0
    refused: str | None = None


def route(topic: str, prefix: str) -> tuple[str, str] | None:
    """``(node_id, "batch" | "heartbeat")`` of a topic under ``prefix``; None for anything else."""
    rest = topic.removeprefix(prefix + "/")
    parts = rest.split("/")
    if rest == topic or len(parts) != 2 or parts[1] not in {"batch", "heartbeat"} or not parts[0]:
        return None
    return parts[0], parts[1]


def handle_message(context: ServerContext, node_id: str, kind: str, payload: bytes) -> Outcome:
    """Store (or refuse, audited) one message; a database failure raises (retry, no ack)."""
    max_bytes = context.settings.ingest.max_request_bytes
    with context.sessions() as session:
        try:
            node = active_identity(session, node_id=node_id)
            context.ingest.buckets.take(node.node_id)
            if kind == "heartbeat":
                heartbeat = parse_message(NodeHeartbeat, payload, max_bytes=max_bytes)
                service.record_heartbeat(session, node=node, heartbeat=heartbeat)
                return Outcome(node_id, kind)
            batch = parse_message(IngestBatch, payload, max_bytes=max_bytes)
            receipt = service.ingest_batch(
                session,
                node=node,
                batch=batch,
                sealer=context.sealer,
                audit=context.audit,
                write_gate=context.ingest.write_gate,
                ppe_min_count=context.settings.safety.ppe_min_count,
            )
            return Outcome(node_id, kind, stored=receipt.stored, duplicates=receipt.duplicates)
        except LineGuardError as exc:
            if exc.http_status >= 500 or exc.http_status == 429:
                raise  # try again: the server, not the message, is the problem
            session.rollback()
            service.record_rejection(session, node_id=node_id, reason=exc.message, audit=context.audit)
            log.warning("MQTT %s from node %s refused: %s", kind, node_id, exc.message)
            return Outcome(node_id, kind, refused=exc.message)


class MqttIngest:
    """The subscription for the server's lifetime: ``start()`` connects, ``stop()`` ends it."""

    def __init__(self, context: ServerContext, config: IngestMqttConfig) -> None:
        self.context = context
        self.config = config
        self.stop_event = threading.Event()
        self.outcomes: list[Outcome] = []  # the most recent ones, for status and tests
        self._client: GatedMqttClient | None = None
        self._subscribed = threading.Event()

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    def start(self) -> None:
        client = GatedMqttClient(
            self.context.egress,
            url=self.config.url,
            client_id=self.config.client_id,
            setting="ingest.mqtt.url",
            client_chain=(self.config.client_cert, self.config.client_key),
            clean_session=False,  # the broker keeps what arrives while the server is down
        )
        client.manual_ack_set(True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.connect_async(client.destination.host, client.destination.port, keepalive=30)
        client.loop_start()
        self._client = client

    def stop(self) -> None:
        self.stop_event.set()
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT ingest: broker refused the connection: %s", reason)
            return
        client.subscribe(f"{self.config.topic_prefix}/+/+", qos=1)
        self._subscribed.set()

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, _reason: Any, _props: Any
    ) -> None:
        self._subscribed.clear()

    def _on_message(self, client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        routed = route(message.topic, self.config.topic_prefix)
        if routed is None:  # the ACL lets a node write under its id only; anything else is noise
            log.warning("MQTT ingest: unexpected topic %r dropped", message.topic)
            client.ack(message.mid, message.qos)
            return
        wait_s = 0.5
        while not self.stop_event.is_set():
            try:
                outcome = handle_message(self.context, *routed, bytes(message.payload))
            except Exception:  # the database (or the rate limit) failed this time: keep it unacknowledged
                log.exception("MQTT ingest: storing a message failed; retrying in %.1f s", wait_s)
                self.stop_event.wait(wait_s)
                wait_s = min(wait_s * 2, _RETRY_MAX_S)
                continue
            self.outcomes = [*self.outcomes[-999:], outcome]
            break
        else:
            return  # stopping: no PUBACK, the broker delivers it again to the next session
        client.ack(message.mid, message.qos)
