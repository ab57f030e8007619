"""The MQTT publisher: follows ``inspection_events`` and ``alerts`` and publishes them at QoS 1.

The database is the local queue. A round reads the rows after this publisher's cursor
(``integration_cursors``), publishes one message per row plus the retained state of
every line touched (and, with Sparkplug B, the lines' metrics as DDATA), waits for the
broker's PUBACK of **every** message, and only then advances the cursors. A broker that
restarts, a connection that drops or a server that stops mid-round leaves the cursor
where it was, and the next round sends the same rows again: nothing is lost, and a
subscriber may see a message twice (QoS 1 is at-least-once; ``event_id`` / ``alert_id``
identify duplicates). paho reconnects by itself with backoff; rounds are skipped while
the connection is down, so paho's in-memory queue never grows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.integrations import MqttConfig
from lineguard.crypto import utc_text
from lineguard.server.egress import EgressGate, GatedMqttClient
from lineguard.server.ingest import ALL_PARTS, AlertRow, InspectionEventRow, RollupHourly
from lineguard.server.integrations.cursors import advance, positions
from lineguard.server.integrations.mqtt import sparkplug
from lineguard.server.integrations.mqtt.client import publisher_client
from lineguard.server.integrations.mqtt.messages import (
    LineCounts,
    Outgoing,
    alert_message,
    line_state_message,
    status_topic,
    verdict_message,
)
from lineguard.server.storage import utcnow

__all__ = ["ALERTS_CURSOR", "EVENTS_CURSOR", "MqttPublisher", "PublishReport"]

log = logging.getLogger(__name__)

EVENTS_CURSOR = "mqtt:inspection_events"
ALERTS_CURSOR = "mqtt:alerts"
ACK_TIMEOUT_S = 10.0


@dataclass
class PublishReport:
    published: int = 0
    skipped_reason: str | None = None


@dataclass
class MqttPublisher:
    config: MqttConfig
    gate: EgressGate
    sessions: sessionmaker[Session]
    site_id: str
    password: str | None = None
    clock: Callable[[], datetime] = utcnow
    published_total: int = 0
    last_error: str | None = None
    last_published_at: datetime | None = None
    _connected: threading.Event = field(default_factory=threading.Event)
    _seq: int = 0
    _bd_seq: int = 0
    _born_devices: set[str] = field(default_factory=set)
    _client: GatedMqttClient | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        client = publisher_client(self.config, self.gate, password=self.password)
        prefix = self.config.topic_prefix
        if self.config.sparkplug:
            death = sparkplug.encode_payload({"bdSeq": (self._bd_seq, "UInt64")}, seq=None)
            client.will_set(self._sp_topic("NDEATH"), death, qos=1, retain=False)
        else:
            client.will_set(status_topic(prefix, self.site_id), b"offline", qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self._client = client
        dest = client.destination
        client.connect_async(dest.host, dest.port, keepalive=30)
        client.loop_start()

    def stop(self) -> None:
        client = self._client
        if client is None:
            return
        if self._connected.is_set():
            if self.config.sparkplug:
                death = sparkplug.encode_payload({"bdSeq": (self._bd_seq, "UInt64")}, seq=None)
                last = client.publish(self._sp_topic("NDEATH"), death, qos=1)
            else:
                offline = status_topic(self.config.topic_prefix, self.site_id)
                last = client.publish(offline, b"offline", qos=1, retain=True)
            try:
                last.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                log.warning("MQTT: could not publish the offline status before disconnecting")
        client.disconnect()
        client.loop_stop()
        self._client = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if getattr(reason, "is_failure", False):
            self.last_error = f"broker refused the connection ({reason})"
            return
        self._born_devices.clear()
        if self.config.sparkplug:
            self._seq = 0
            birth = sparkplug.encode_payload(
                {"bdSeq": (self._bd_seq, "UInt64"), "Node Control/Rebirth": (False, "Boolean")},
                seq=self._next_seq(),
            )
            client.publish(self._sp_topic("NBIRTH"), birth, qos=0)
        else:
            client.publish(
                status_topic(self.config.topic_prefix, self.site_id), b"online", qos=1, retain=True
            )
        self._connected.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._connected.clear()
        self.last_error = f"disconnected from the broker ({reason})"

    # -- publishing -----------------------------------------------------------------------

    def queued(self, session: Session) -> int:
        """Rows not yet acknowledged by the broker (the local queue's depth)."""
        events, alerts = self._positions(session)
        behind_events = session.scalar(select(func.count()).where(InspectionEventRow.row_id > events))
        behind_alerts = session.scalar(select(func.count()).where(AlertRow.row_id > alerts))
        return int(behind_events or 0) + int(behind_alerts or 0)

    def run_once(self) -> PublishReport:
        client = self._client
        if client is None or not self._connected.is_set():
            return PublishReport(skipped_reason="not connected")
        prefix, batch = self.config.topic_prefix, self.config.batch
        with self.sessions() as session:
            events_at, alerts_at = self._positions(session)
            events = session.scalars(
                select(InspectionEventRow).where(InspectionEventRow.row_id > events_at)
                .order_by(InspectionEventRow.row_id).limit(batch)
            ).all()  # fmt: skip
            alerts = session.scalars(
                select(AlertRow).where(AlertRow.row_id > alerts_at).order_by(AlertRow.row_id).limit(batch)
            ).all()
            if not events and not alerts:
                return PublishReport()
            outgoing = [verdict_message(prefix, e) for e in events] + [
                alert_message(prefix, a) for a in alerts
            ]
            lines = sorted(
                {(e.site_id, e.line_id) for e in events} | {(a.site_id, a.line_id) for a in alerts}
            )
            counts = [self._line_counts(session, site, line) for site, line in lines]
        now_text = utc_text(self.clock())
        outgoing += [line_state_message(prefix, c, updated_at=now_text) for c in counts]
        if self.config.sparkplug:
            outgoing += self._sparkplug_messages(counts)
        infos = [client.publish(m.topic, m.payload, qos=1, retain=m.retain) for m in outgoing]
        deadline = time.monotonic() + ACK_TIMEOUT_S
        for info in infos:
            try:
                info.wait_for_publish(timeout=max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as exc:
                self.last_error = f"publish failed ({exc})"
                return PublishReport(skipped_reason=self.last_error)
            if not info.is_published():
                self.last_error = "the broker did not acknowledge in time; the rows stay queued"
                return PublishReport(skipped_reason=self.last_error)
        with self.sessions.begin() as session:
            if events:
                advance(session, EVENTS_CURSOR, events[-1].row_id, now=self.clock())
            if alerts:
                advance(session, ALERTS_CURSOR, alerts[-1].row_id, now=self.clock())
        self.published_total += len(outgoing)
        self.last_published_at = self.clock()
        self.last_error = None
        return PublishReport(published=len(outgoing))

    def status(self) -> dict[str, object]:
        with self.sessions() as session:
            queued = self.queued(session)
        return {
            "broker": str(self._client.destination) if self._client else self.config.url,
            "connected": self.connected,
            "queued": queued,
            "published_since_start": self.published_total,
            "last_published_at": utc_text(self.last_published_at) if self.last_published_at else None,
            "last_error": self.last_error,
            "sparkplug": self.config.sparkplug,
        }

    # -- helpers --------------------------------------------------------------------------

    def _positions(self, session: Session) -> tuple[int, int]:
        at = positions(session, [EVENTS_CURSOR, ALERTS_CURSOR])
        return at[EVENTS_CURSOR], at[ALERTS_CURSOR]

    def _line_counts(self, session: Session, site_id: str, line_id: str) -> LineCounts:
        hour = self.clock().replace(minute=0, second=0, microsecond=0)
        sums = [
            func.coalesce(func.sum(column), 0)
            for column in (
                RollupHourly.inspected,
                RollupHourly.passed,
                RollupHourly.failed,
                RollupHourly.uncertain,
            )
        ]
        total = session.execute(
            select(*sums).where(
                RollupHourly.site_id == site_id, RollupHourly.line_id == line_id,
                RollupHourly.defect_class == ALL_PARTS, RollupHourly.hour == hour,
            )
        ).one()  # fmt: skip
        return LineCounts(site_id, line_id, utc_text(hour), *(int(v) for v in total))

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq = (self._seq + 1) % 256
        return seq

    def _sp_topic(self, kind: str, device: str | None = None) -> str:
        return sparkplug.topic(self.config.sparkplug_group, kind, self.site_id, device)

    def _sparkplug_messages(self, counts: list[LineCounts]) -> list[Outgoing]:
        out = []
        for c in counts:
            metrics: dict[str, sparkplug.Metric] = {
                "inspected": (c.inspected, "Int64"),
                "passed": (c.passed, "Int64"),
                "failed": (c.failed, "Int64"),
                "uncertain": (c.uncertain, "Int64"),
                "yield": (c.yield_ratio, "Double"),
            }
            kind = "DDATA" if c.line_id in self._born_devices else "DBIRTH"
            self._born_devices.add(c.line_id)
            payload = sparkplug.encode_payload(metrics, seq=self._next_seq())
            out.append(Outgoing(self._sp_topic(kind, c.line_id), payload))
        return out
