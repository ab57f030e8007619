"""MQTT for the OT side: inspection metadata to the plant's broker (QoS 1, retained line
state, optional Sparkplug B), through the egress gate, with the database as the local queue."""

from lineguard.server.integrations.mqtt.messages import Outgoing, status_topic
from lineguard.server.integrations.mqtt.publisher import (
    ALERTS_CURSOR,
    EVENTS_CURSOR,
    MqttPublisher,
    PublishReport,
)
from lineguard.server.integrations.mqtt.sparkplug import encode_payload, payload_class

__all__ = [
    "ALERTS_CURSOR",
    "EVENTS_CURSOR",
    "MqttPublisher",
    "Outgoing",
    "PublishReport",
    "encode_payload",
    "payload_class",
    "status_topic",
]
