"""The publisher's broker connection: the egress domain's gated paho client, configured
from ``integrations.mqtt`` (:class:`~lineguard.server.egress.GatedMqttClient`)."""

from __future__ import annotations

from lineguard.config.integrations import MqttConfig
from lineguard.server.egress import Destination, EgressGate, GatedMqttClient, mqtt_destination

__all__ = ["broker_destination", "publisher_client"]


def broker_destination(config: MqttConfig) -> Destination:
    return mqtt_destination(config.url)


def publisher_client(config: MqttConfig, gate: EgressGate, *, password: str | None) -> GatedMqttClient:
    chain = None
    if config.client_cert is not None and config.client_key is not None:
        chain = (config.client_cert, config.client_key)
    return GatedMqttClient(
        gate,
        url=config.url,
        client_id=config.client_id,
        setting="integrations.mqtt.url",
        client_chain=chain,
        username=config.username,
        password=password,
    )
