"""Node ingest over MQTT for the app's lifetime, on the replica that leads it (found by ``create_app``).

Without ``ingest.mqtt`` nothing runs. Otherwise a thread asks every
``LEADER_RETRY_S`` whether this process leads ``mqtt-ingest`` (``storage.Leadership``);
the leader subscribes (:class:`.mqtt.MqttIngest`), and stops at once if it loses the lead
(its database connection was cut), so two consumers never share the broker session.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lineguard.server.context import ServerContext
from lineguard.server.ingest.mqtt import LEADER_DUTY, MqttIngest

__all__ = ["LEADER_RETRY_S", "lifespan", "run_consumer"]

#: How often leadership is checked (to take over, or to notice a lost lead).
LEADER_RETRY_S = 2.0


def run_consumer(context: ServerContext, consumer: MqttIngest, stop: threading.Event) -> None:
    """Consume while leading; until ``stop``."""
    running = False
    try:
        while not stop.is_set():
            leading = context.leadership.holds(LEADER_DUTY)
            if leading and not running:
                consumer.stop_event.clear()
                consumer.start()
                running = True
            elif running and not leading:
                consumer.stop()
                running = False
            stop.wait(LEADER_RETRY_S)
    finally:
        if running:
            consumer.stop()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    context: ServerContext = app.state.lineguard
    config = context.settings.ingest.mqtt
    if config is None:
        yield
        return
    consumer = MqttIngest(context, config)
    context.ingest.mqtt = consumer
    stop = threading.Event()
    thread = threading.Thread(
        target=run_consumer, args=(context, consumer, stop), name="mqtt-ingest", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        consumer.stop_event.set()  # a message retrying its write gives up (unacknowledged)
        thread.join(30)
