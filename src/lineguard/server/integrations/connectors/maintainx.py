"""MaintainX: ``POST /v1/workorders`` with a bearer API key.

Fields: ``title``, ``description``, ``priority`` (``NONE``/``LOW``/``MEDIUM``/``HIGH``),
``assetId`` and ``locationId`` (MaintainX's numeric ids, from ``integrations.assets``),
``categories``. The answer carries the new order's ``id``. MaintainX documents no
idempotency key: LineGuard sends ``Idempotency-Key`` anyway and writes its work-order
id into the description, so a duplicate after a lost answer is recognisable
(docs/integrations.md says what that means for retries).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from lineguard.config.integrations import MaintainXDestination
from lineguard.contracts.errors import UpstreamError
from lineguard.server.egress import GatedHttp
from lineguard.server.integrations.connectors.base import Delivered, check_status, error_in_body, json_object
from lineguard.server.integrations.schemas import WorkOrder

__all__ = ["MAINTAINX_PRIORITY", "MaintainXConnector", "maintainx_body"]

MAINTAINX_PRIORITY = {"low": "LOW", "medium": "MEDIUM", "high": "HIGH", "urgent": "HIGH"}


def _numeric(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def maintainx_body(order: WorkOrder, categories: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": order.title,
        "description": f"{order.description}\n\nLineGuard work order {order.work_order_id}",
        "priority": MAINTAINX_PRIORITY[order.priority],
    }
    if (asset := _numeric(order.asset_id)) is not None:
        body["assetId"] = asset
    if (location := _numeric(order.location_id)) is not None:
        body["locationId"] = location
    if categories:
        body["categories"] = list(categories)
    return body


class MaintainXConnector:
    kind: ClassVar[str] = "maintainx"

    def __init__(self, config: MaintainXDestination) -> None:
        self.name = config.name
        self.target = f"{config.base_url}/v1/workorders"
        self._categories = list(config.categories)
        self._token = config.api_key.resolve().get_secret_value()

    def deliver(self, order: WorkOrder, http: GatedHttp) -> Delivered:
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Content-Type": "application/json",
            "Idempotency-Key": order.idempotency_key,
        }
        body = json.dumps(maintainx_body(order, self._categories)).encode()
        result = http.request("POST", self.target, headers=headers, content=body)
        check_status(result, name=self.name)
        answer = json_object(result, name=self.name)
        problem = error_in_body(answer)
        if problem is not None or answer.get("id") is None:
            why = problem or "no id"
            msg = f"{self.name}: {result.url} answered {result.status} without a work-order id ({why})"
            raise UpstreamError(msg, retryable=True)
        return Delivered(external_id=str(answer["id"])[:128])
