"""What the integrations domain keeps for the app's lifetime, built once by ``create_app``.

:meth:`IntegrationsState.build` turns ``integrations:`` of ``server.yaml`` into one
connector per CMMS (secrets resolved now, so a missing one stops the server at start,
not at the first work order), checks every destination against the egress allowlist
(a destination nobody allowed is a config error, not a stream of denials), and wires
the :class:`Dispatcher`. ``scheduled.lifespan`` runs it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.integrations import IntegrationsConfig
from lineguard.config.server import ServerConfig
from lineguard.contracts.errors import ConfigError
from lineguard.server.context import Sealer
from lineguard.server.egress import Destination, EgressGate
from lineguard.server.integrations.connectors import Connector, build_connector
from lineguard.server.integrations.delivery import Dispatcher
from lineguard.server.integrations.mqtt import MqttPublisher
from lineguard.server.integrations.mqtt.client import broker_destination
from lineguard.server.integrations.recommendations import Recommender
from lineguard.server.integrations.status import OnClosed

__all__ = ["IntegrationsState"]


def _close_nothing(session: Session, work_order_id: str, status: str) -> int:
    return 0


@dataclass
class IntegrationsState:
    config: IntegrationsConfig
    connectors: dict[str, Connector]
    enabled: frozenset[str]
    dispatcher: Dispatcher
    status_keys: dict[str, bytes]
    #: Node triggers and server rules → work-order recommendations → the delivery queue.
    recommender: Recommender | None = None
    #: Set when something was queued: the delivery loop runs now instead of at its next tick.
    wake: threading.Event = field(default_factory=threading.Event)
    #: Closes a work order's alerts when the CMMS closes it (the recommender's ``close``).
    on_closed: OnClosed = _close_nothing
    #: Inspection metadata to the OT side's broker (None: no ``integrations.mqtt``).
    mqtt: MqttPublisher | None = None

    def mqtt_status(self) -> dict[str, object] | None:
        """The MQTT publisher's health for the dashboard (None: no broker configured)."""
        return None if self.mqtt is None else self.mqtt.status()

    @classmethod
    def build(
        cls,
        settings: ServerConfig,
        *,
        sessions: sessionmaker[Session],
        sealer: Sealer,
        audit: Callable[..., Any],
        gate: EgressGate,
    ) -> IntegrationsState:
        config = settings.integrations
        connectors = {d.name: build_connector(d) for d in config.cmms}
        missing = []
        for name, connector in connectors.items():
            url = httpx.URL(connector.target)
            dest = Destination(
                scheme=url.scheme, host=url.host, port=url.port or (443 if url.scheme == "https" else 80)
            )
            if not gate.allows(dest):
                missing.append(f"integrations.cmms[{name}]: {dest} is not in egress.allow")
        mqtt = None
        if config.mqtt is not None:
            broker = broker_destination(config.mqtt)
            if not gate.allows(broker):
                missing.append(f"integrations.mqtt.url: {broker} is not in egress.allow")
            password = config.mqtt.password.resolve().get_secret_value() if config.mqtt.password else None
            mqtt = MqttPublisher(config.mqtt, gate, sessions, settings.site_id, password=password)
        if missing:
            msg = "integration destinations must be allowed by the egress allowlist"
            raise ConfigError(msg, details=missing)
        enabled = frozenset(d.name for d in config.cmms if d.enabled)
        keys = {}
        if config.status_webhook is not None:
            keys = {
                k.key_id: k.secret.resolve().get_secret_value().encode() for k in config.status_webhook.keys
            }
        dispatcher = Dispatcher(
            sessions=sessions,
            sealer=sealer,
            audit=audit,
            gate=gate,
            connectors=connectors,
            policy=config.delivery,
            enabled=enabled,
        )
        recommender = Recommender(
            config=config,
            sessions=sessions,
            sealer=sealer,
            audit=audit,
            site_id=settings.site_id,
            destinations=sorted(enabled),
        )
        return cls(
            config=config,
            connectors=connectors,
            enabled=enabled,
            dispatcher=dispatcher,
            status_keys=keys,
            mqtt=mqtt,
            recommender=recommender,
            on_closed=recommender.close,
        )
