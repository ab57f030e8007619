"""Sparkplug B payloads (``spBv1.0``), encoded with protobuf from the published schema.

The Eclipse Sparkplug B specification defines the payload as the protobuf message
``org.eclipse.tahu.protobuf.Payload`` (``sparkplug_b.proto``). There is no maintained
PyPI package with only the generated code (``pysparkplug`` 0.6.1, last released 2025-05,
wraps its own MQTT client, which would bypass the egress gate), so the message types are
built here from the schema's descriptor with the ``protobuf`` runtime — the subset
LineGuard sends: ``Payload`` {timestamp = 1, metrics = 2, seq = 3} and ``Metric``
{name = 1, timestamp = 3, datatype = 4, is_null = 7, int_value = 10, long_value = 11,
double_value = 13, boolean_value = 14, string_value = 15}, field numbers and types as
published, so any Sparkplug host decodes them.

Topics: ``spBv1.0/<group>/NBIRTH|NDEATH|DBIRTH|DDATA/<edge node>[/<device>]``; the edge
node is the server (its site id), each line a device. ``bdSeq`` ties an NBIRTH to the
NDEATH the broker publishes as our will when the connection dies.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

__all__ = ["DATATYPES", "Metric", "encode_payload", "payload_class", "topic"]

#: Sparkplug B data types (specification, section 6.4.16) LineGuard uses.
DATATYPES = {"Int64": 4, "UInt64": 8, "Double": 10, "Boolean": 11, "String": 12}

_F = descriptor_pb2.FieldDescriptorProto
_OPTIONAL, _REPEATED = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED


def _build() -> Any:
    proto = descriptor_pb2.FileDescriptorProto(
        name="lineguard_sparkplug_b.proto", package="org.eclipse.tahu.protobuf", syntax="proto2"
    )
    payload = proto.message_type.add(name="Payload")
    metric = payload.nested_type.add(name="Metric")
    metric.oneof_decl.add(name="value")
    for name, number, kind, oneof in [
        ("name", 1, _F.TYPE_STRING, False),
        ("timestamp", 3, _F.TYPE_UINT64, False),
        ("datatype", 4, _F.TYPE_UINT32, False),
        ("is_null", 7, _F.TYPE_BOOL, False),
        ("int_value", 10, _F.TYPE_UINT32, True),
        ("long_value", 11, _F.TYPE_UINT64, True),
        ("double_value", 13, _F.TYPE_DOUBLE, True),
        ("boolean_value", 14, _F.TYPE_BOOL, True),
        ("string_value", 15, _F.TYPE_STRING, True),
    ]:
        field = metric.field.add(name=name, number=number, type=kind, label=_OPTIONAL)
        if oneof:
            field.oneof_index = 0
    payload.field.add(name="timestamp", number=1, type=_F.TYPE_UINT64, label=_OPTIONAL)
    payload.field.add(
        name="metrics",
        number=2,
        type=_F.TYPE_MESSAGE,
        label=_REPEATED,
        type_name=".org.eclipse.tahu.protobuf.Payload.Metric",
    )
    payload.field.add(name="seq", number=3, type=_F.TYPE_UINT64, label=_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("org.eclipse.tahu.protobuf.Payload"))


_PAYLOAD = _build()

#: ``(value, datatype name)`` of one metric.
Metric = tuple[int | float | bool | str, str]


def payload_class() -> Any:
    """The generated ``Payload`` class (tests decode with it)."""
    return _PAYLOAD


def encode_payload(metrics: Mapping[str, Metric], *, seq: int | None, now_ms: int | None = None) -> bytes:
    timestamp = int(time.time() * 1000) if now_ms is None else now_ms
    message = _PAYLOAD(timestamp=timestamp)
    if seq is not None:
        message.seq = seq % 256
    for name, (value, datatype) in metrics.items():
        metric = message.metrics.add(name=name, timestamp=timestamp, datatype=DATATYPES[datatype])
        if datatype == "Boolean":
            metric.boolean_value = bool(value)
        elif datatype == "String":
            metric.string_value = str(value)
        elif datatype == "Double":
            metric.double_value = float(value)
        else:
            metric.long_value = int(value)
    return bytes(message.SerializeToString())


def topic(group: str, kind: str, edge_node: str, device: str | None = None) -> str:
    parts = ["spBv1.0", group, kind, edge_node] + ([device] if device else [])
    return "/".join(parts)
