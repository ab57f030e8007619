"""``authorize_batch`` without a server: a batch wholly the node's own passes (the set
check), and one foreign item anywhere (site, line or camera of any kind of item, or the
batch's node) is refused with every offending item named, exactly as the item-by-item
walk names them."""

from __future__ import annotations

from typing import Any

import pytest

from lineguard.contracts.errors import PermissionDeniedError
from lineguard.contracts.events import IngestBatch
from lineguard.server.ingest.service import authorize_batch
from lineguard.server.nodes import NodeIdentity
from tests.unit.server.ingest import factory

NODE = NodeIdentity("node-a", "plant-a", "line-1", frozenset({"cam-1", "cam-2"}), "1")


def _body() -> dict[str, Any]:
    events = [factory.event("node-a"), factory.event("node-a", camera_id="cam-2")]
    alerts = [factory.alert("node-a"), factory.alert("node-a", camera_id=None)]
    return factory.batch("node-a", events, alerts)


def test_a_batch_wholly_the_nodes_own_passes() -> None:
    authorize_batch(NODE, IngestBatch.model_validate(_body()))


@pytest.mark.parametrize("kind", ["events", "alerts", "parts"])
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("site_id", "plant-z", "'plant-z' is not this node's site 'plant-a'"),
        ("line_id", "line-9", "'line-9' is not this node's line 'line-1'"),
        ("camera_id", "cam-9", "'cam-9' is not enrolled for node 'node-a'"),
    ],
)
def test_one_foreign_item_is_refused_and_named(kind: str, field: str, value: str, message: str) -> None:
    body = _body()
    body[kind][1][field] = value
    with pytest.raises(PermissionDeniedError) as refused:
        authorize_batch(NODE, IngestBatch.model_validate(body))
    assert refused.value.details == [f"{kind}[1].{field}: {message}"]


def test_a_batch_for_another_node_is_refused_even_when_its_places_are_this_nodes() -> None:
    # node-b shares node-a's site, line and camera names: the set check passes, the node check refuses.
    node_b = NodeIdentity("node-b", NODE.site_id, NODE.line_id, NODE.camera_ids, "2")
    with pytest.raises(PermissionDeniedError) as refused:
        authorize_batch(node_b, IngestBatch.model_validate(_body()))
    assert refused.value.details == ["node_id: batch is for 'node-a', the certificate is 'node-b'"]
