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
from lineguard.server.integrations.leadership import ProcessLeader
from lineguard.server.integrations.mqtt import MqttPublisher
from lineguard.server.integrations.state import IntegrationsState

__all__ = ["LEADER_RETRY_S", "delivery_loop", "lifespan", "mqtt_loop", "publish_loop", "recommend_loop"]

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


async def recommend_loop(state: IntegrationsState, interval_s: float) -> None:
    recommender = state.recommender
    assert recommender is not None  # noqa: S101 - the lifespan starts this loop only with one
    while True:
        await asyncio.sleep(interval_s)  # first round after one interval: start-up stays quiet
        try:
            report = await asyncio.to_thread(recommender.run_once)
        except Exception:
            log.exception("work-order recommendation round failed; will retry")
            continue
        if report.queued:
            state.wake.set()


async def mqtt_loop(publisher: MqttPublisher, leader: ProcessLeader, interval_s: float) -> None:
    """Publish while this process leads (:mod:`.leadership`); otherwise try again every few seconds."""
    try:
        while not leader.try_acquire():
            await asyncio.sleep(LEADER_RETRY_S)
        await asyncio.to_thread(publisher.start)
        try:
            await publish_loop(publisher, interval_s)
        finally:
            await asyncio.to_thread(publisher.stop)
    finally:
        leader.release()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: IntegrationsState = app.state.lineguard.integrations
    async with AsyncExitStack() as stack:
        if state.recommender is not None:
            interval = state.config.rules.interval_s
            await stack.enter_async_context(
                background_task(recommend_loop(state, interval), name="recommend")
            )
        if state.connectors:
            await stack.enter_async_context(background_task(delivery_loop(state), name="cmms-delivery"))
            # Runs before the loop is cancelled: a round waiting in its thread ends now.
            stack.callback(state.wake.set)
        if state.mqtt is not None:
            interval = state.config.mqtt.publish_interval_s if state.config.mqtt else 1.0
            leader = ProcessLeader(app.state.lineguard.settings.data_dir / "mqtt-publisher.lock")
            loop = mqtt_loop(state.mqtt, leader, interval)
            await stack.enter_async_context(background_task(loop, name="mqtt-publish"))
        yield
