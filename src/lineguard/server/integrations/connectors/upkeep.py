"""UpKeep: ``POST /work-orders`` with a ``Session-Token``.

Fields: ``title``, ``description``, ``priority`` (0 none, 1 low, 2 medium, 3 high),
``asset`` and ``location`` (UpKeep ids from ``integrations.assets``). The answer is
``{"success": true, "result": {"id": ...}}``; ``success: false`` is a failure.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from lineguard.config.integrations import UpKeepDestination
from lineguard.contracts.errors import UpstreamError
from lineguard.server.egress import GatedHttp
from lineguard.server.integrations.connectors.base import Delivered, check_status, error_in_body, json_object
from lineguard.server.integrations.schemas import WorkOrder

__all__ = ["UPKEEP_PRIORITY", "UpKeepConnector", "upkeep_body"]

UPKEEP_PRIORITY = {"low": 1, "medium": 2, "high": 3, "urgent": 3}


def upkeep_body(order: WorkOrder) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": order.title,
        "description": f"{order.description}\n\nLineGuard work order {order.work_order_id}",
        "priority": UPKEEP_PRIORITY[order.priority],
    }
    if order.asset_id:
        body["asset"] = order.asset_id
    if order.location_id:
        body["location"] = order.location_id
    return body


class UpKeepConnector:
    kind: ClassVar[str] = "upkeep"

    def __init__(self, config: UpKeepDestination) -> None:
        self.name = config.name
        self.target = f"{config.base_url}/work-orders"
        self._token = config.session_token.resolve().get_secret_value()

    def deliver(self, order: WorkOrder, http: GatedHttp) -> Delivered:
        headers = {
            "Session-Token": self._token,
            "Content-Type": "application/json",
            "Idempotency-Key": order.idempotency_key,
        }
        result = http.request(
            "POST", self.target, headers=headers, content=json.dumps(upkeep_body(order)).encode()
        )
        check_status(result, name=self.name)
        answer = json_object(result, name=self.name)
        created = answer.get("result")
        problem = error_in_body(answer)
        if problem is not None or not isinstance(created, dict) or created.get("id") is None:
            why = problem or "no result.id"
            msg = f"{self.name}: {result.url} answered {result.status} without a work order ({why})"
            raise UpstreamError(msg, retryable=True)
        return Delivered(external_id=str(created["id"])[:128])
