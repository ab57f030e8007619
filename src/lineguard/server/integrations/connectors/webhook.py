"""The generic webhook: LineGuard's own signed JSON, for any system that can receive it.

``POST <url>`` with the body ``{"type": "lineguard.work_order", "version": 1,
"work_order": {...}}``, the HMAC signature headers of :mod:`..signing`, and an
``Idempotency-Key`` that stays the same on every retry of one work order: a receiver
that keeps the keys it has seen creates each order once however often it is sent.
The receiver answers 2xx with ``{"id": "<its id>"}`` (or ``{}``); ``409 Conflict``
means it already has that key, which counts as delivered.
"""

from __future__ import annotations

import json
from typing import ClassVar

from lineguard.config.integrations import WebhookDestination
from lineguard.contracts.errors import UpstreamError
from lineguard.server.egress import GatedHttp
from lineguard.server.integrations.connectors.base import (
    Delivered,
    check_status,
    error_in_body,
    json_object,
    require_key_length,
)
from lineguard.server.integrations.schemas import WorkOrder
from lineguard.server.integrations.signing import MIN_KEY_LENGTH, sign

__all__ = ["WebhookConnector", "webhook_body"]


def webhook_body(order: WorkOrder) -> bytes:
    document = {"type": "lineguard.work_order", "version": 1, "work_order": order.model_dump(mode="json")}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


class WebhookConnector:
    kind: ClassVar[str] = "webhook"

    def __init__(self, config: WebhookDestination) -> None:
        self.name = config.name
        self.target = config.url
        self._key_id = config.signing.key_id
        self._key = require_key_length(
            config.name, config.signing.secret.resolve().get_secret_value().encode(), MIN_KEY_LENGTH
        )

    def deliver(self, order: WorkOrder, http: GatedHttp) -> Delivered:
        body = webhook_body(order)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": order.idempotency_key,
            **sign(body, key_id=self._key_id, key=self._key),
        }
        result = http.request("POST", self.target, headers=headers, content=body)
        if result.status == 409:
            answer = json_object(result, name=self.name) if result.body else {}
            return Delivered(external_id=_text(answer.get("id")))
        check_status(result, name=self.name)
        answer = json_object(result, name=self.name)
        problem = error_in_body(answer)
        if problem is not None:
            msg = f"{self.name}: {result.url} answered {result.status} but its body reports {problem}"
            raise UpstreamError(msg, retryable=True)
        return Delivered(external_id=_text(answer.get("id")))


def _text(value: object) -> str | None:
    return None if value is None else str(value)[:128]
