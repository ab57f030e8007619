"""SAP PM: a maintenance notification through the OData service ``API_MAINTNOTIFICATION``.

SAP Gateway refuses a modifying request without a CSRF token, so each delivery is two
requests: ``GET …/MaintenanceNotification?$top=0`` with ``x-csrf-token: fetch`` (basic
auth) returns the token in the ``x-csrf-token`` header and a session cookie; the
``POST …/MaintenanceNotification`` then carries both. A ``403`` answering
``x-csrf-token: Required`` (the session expired in between) fetches once more. The
entity gets ``NotificationText`` (40 characters, SAP's limit), ``NotificationType``,
``MaintPriority`` (1 very high … 4 low), ``TechnicalObject`` with
``TechObjIsEquipOrFuncnlLoc`` when an asset is mapped, and the long text
``MaintNotifLongTextForEdit``. The answer (``201``) is ``{"d": {"MaintenanceNotification": "…"}}``.
"""

from __future__ import annotations

import base64
import json
from typing import Any, ClassVar

from lineguard.config.integrations import SapPmDestination
from lineguard.contracts.errors import UpstreamError
from lineguard.server.egress import GatedHttp, HttpResult
from lineguard.server.integrations.connectors.base import Delivered, check_status, json_object
from lineguard.server.integrations.schemas import WorkOrder

__all__ = ["SAP_PRIORITY", "SapPmConnector", "sap_body"]

SAP_PRIORITY = {"urgent": "1", "high": "2", "medium": "3", "low": "4"}
_ENTITY = "MaintenanceNotification"


def sap_body(order: WorkOrder, notification_type: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "NotificationText": order.title[:40],
        "NotificationType": notification_type,
        "MaintPriority": SAP_PRIORITY[order.priority],
        "MaintNotifLongTextForEdit": f"{order.description}\n\nLineGuard work order {order.work_order_id}",
    }
    if order.asset_id:
        body["TechnicalObject"] = order.asset_id
        body["TechObjIsEquipOrFuncnlLoc"] = "EAMS_EQUI"
    return body


def _cookies(result: HttpResult) -> str:
    pairs = [c.split(";", 1)[0].strip() for c in result.headers.get_list("set-cookie")]
    return "; ".join(p for p in pairs if "=" in p)


class SapPmConnector:
    kind: ClassVar[str] = "sap_pm"

    def __init__(self, config: SapPmDestination) -> None:
        self.name = config.name
        query = f"?sap-client={config.sap_client}" if config.sap_client else ""
        self.target = f"{config.service_url}/{_ENTITY}"
        self._query = query
        self._type = config.notification_type
        password = config.password.resolve().get_secret_value()
        self._auth = "Basic " + base64.b64encode(f"{config.username}:{password}".encode()).decode("ascii")

    def _fetch_token(self, http: GatedHttp) -> tuple[str, str]:
        sep = "&" if self._query else "?"
        result = http.request(
            "GET",
            f"{self.target}{self._query}{sep}$top=0",
            headers={"Authorization": self._auth, "x-csrf-token": "fetch", "Accept": "application/json"},
        )
        check_status(result, name=self.name)
        token = result.headers.get("x-csrf-token")
        if not token or token.lower() in {"required", "fetch"}:
            msg = f"{self.name}: {result.url} gave no CSRF token"
            raise UpstreamError(msg, retryable=True)
        return token, _cookies(result)

    def deliver(self, order: WorkOrder, http: GatedHttp) -> Delivered:
        body = json.dumps(sap_body(order, self._type)).encode()
        for _attempt in range(2):
            token, cookies = self._fetch_token(http)
            headers = {
                "Authorization": self._auth,
                "x-csrf-token": token,
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Idempotency-Key": order.idempotency_key,
            }
            if cookies:
                headers["Cookie"] = cookies
            result = http.request("POST", f"{self.target}{self._query}", headers=headers, content=body)
            if result.status == 403 and (result.headers.get("x-csrf-token") or "").lower() == "required":
                continue  # the token expired between fetch and post: fetch a fresh one, once
            check_status(result, name=self.name)
            answer = json_object(result, name=self.name)
            created = answer.get("d")
            if "error" in answer or not isinstance(created, dict) or not created.get(_ENTITY):
                msg = f"{self.name}: {result.url} answered {result.status} without a notification number"
                raise UpstreamError(msg, retryable=True)
            return Delivered(external_id=str(created[_ENTITY])[:128])
        msg = f"{self.name}: {self.target} refused two fresh CSRF tokens"
        raise UpstreamError(msg, retryable=True)
