"""The delivery loop and the MQTT publisher for the app's lifetime (found by ``create_app``).

Every ``integrations.delivery.poll_interval_s`` — or at once when a work order was
queued (``state.wake``) — one :meth:`Dispatcher.run_once` runs in a worker thread, and
again straight away while rounds keep finding work. A failing round is logged and the
loop goes on; shutdown cancels it between rounds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from lineguard.server.background import background_task
from lineguard.server.integrations.mqtt import MqttPublisher
from lineguard.server.integrations.state import IntegrationsState
from lineguard.server.storage import Leadership

__all__ = [
    "LEADER_DUTY",
    "LEADER_RETRY_S",
    "RECOMMENDER_DUTY",
    "delivery_loop",
    "lifespan",
    "mqtt_loop",
    "publish_loop",
    "recommend_loop",
]

#: One MQTT publisher per server, however many worker processes or replicas serve it:
#: two publishers with the same ``client_id`` would take the broker session from each
#: other in turn. The one leading this duty (``storage.Leadership``) publishes.
LEADER_DUTY = "mqtt-publisher"
#: The recommender follows a cursor over triggers: two replicas would propose twice.
RECOMMENDER_DUTY = "work-order-recommender"
#: How often a process that does not publish to MQTT checks whether it should take over.
LEADER_RETRY_S = 5.0

log = logging.getLogger(__name__)


async def delivery_loop(state: IntegrationsState) -> None:
    interval = state.config.delivery.poll_interval_s
    while True:
        try:
            report = await asyncio.to_thread(state.dispatcher.run_once)
        except Exception:
            log.exception("CMMS delivery round failed; will retry")
            report = None
        if report is not None and report.settled:
            continue
        await asyncio.to_thread(state.wake.wait, interval)
        state.wake.clear()


async def publish_loop(publisher: MqttPublisher, interval_s: float) -> None:
    while True:
        try:
            report = await asyncio.to_thread(publisher.run_once)
        except Exception:
            log.exception("MQTT publish round failed; will retry")
            report = None
        if report is None or not report.published:
            await asyncio.sleep(interval_s)


async def recommend_loop(
    state: IntegrationsState, interval_s: float, leadership: Leadership | None = None
) -> None:
    """A round every ``interval_s`` where this process leads :data:`RECOMMENDER_DUTY`.

    Without ``leadership`` (tests of one process) every round runs.
    """
    recommender = state.recommender
    assert recommender is not None  # noqa: S101 - the lifespan starts this loop only with one
    while True:
        await asyncio.sleep(interval_s)  # first round after one interval: start-up stays quiet
        try:
            if leadership is not None and not await asyncio.to_thread(leadership.holds, RECOMMENDER_DUTY):
                continue  # another replica recommends
            report = await asyncio.to_thread(recommender.run_once)
        except Exception:
            log.exception("work-order recommendation round failed; will retry")
            continue
        if report.queued:
            state.wake.set()


async def mqtt_loop(publisher: MqttPublisher, leadership: Leadership, interval_s: float) -> None:
    """Publish while this process leads :data:`LEADER_DUTY`; otherwise try again every few seconds."""
    try:
        while not await asyncio.to_thread(leadership.holds, LEADER_DUTY):
            await asyncio.sleep(LEADER_RETRY_S)
        await asyncio.to_thread(publisher.start)
        try:
            await publish_loop(publisher, interval_s)
        finally:
            await asyncio.to_thread(publisher.stop)
    finally:
        leadership.release(LEADER_DUTY)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: IntegrationsState = app.state.lineguard.integrations
    async with AsyncExitStack() as stack:
        if state.recommender is not None:
            interval = state.config.rules.interval_s
            await stack.enter_async_context(
                background_task(
                    recommend_loop(state, interval, app.state.lineguard.leadership), name="recommend"
                )
            )
        if state.connectors:
            await stack.enter_async_context(background_task(delivery_loop(state), name="cmms-delivery"))
            # Runs before the loop is cancelled: a round waiting in its thread ends now.
            stack.callback(state.wake.set)
        if state.mqtt is not None:
            interval = state.config.mqtt.publish_interval_s if state.config.mqtt else 1.0
            loop = mqtt_loop(state.mqtt, app.state.lineguard.leadership, interval)
            await stack.enter_async_context(background_task(loop, name="mqtt-publish"))
        yield
