"""Integrations: work orders to the plant's CMMS, inspection metadata to MQTT.

* :class:`IntegrationsState` — built once by ``create_app`` from ``integrations:``:
  one connector per CMMS (:mod:`.connectors`: webhook, MaintainX, UpKeep, SAP PM), the
  :class:`Dispatcher` that sends the delivery queue, the status-webhook keys.
* :func:`queue_work_order` — queue an approved work order for every enabled CMMS
  (sealed, idempotent); :func:`replay` dead letters; :func:`overview_destinations`.
* :func:`receive_status` — a signed status message from a CMMS closes a work order.
* :func:`sync_erp` — plant data read from the ERP (:mod:`.erp`, Tryton) into the
  plant-data store (``lineguard data sync erp``).

All traffic leaves through ``lineguard.server.egress``. See docs/integrations.md.
"""

from lineguard.server.integrations.connectors import CONNECTORS, Connector, Delivered, build_connector
from lineguard.server.integrations.delivery import DELIVERY_ACTOR, SEALED_CATEGORY, Dispatcher, RoundReport
from lineguard.server.integrations.erp import SyncReport, sync_erp
from lineguard.server.integrations.models import CmmsDeliveryRow, IntegrationCursorRow
from lineguard.server.integrations.probe import ProbeResult, probe
from lineguard.server.integrations.queue import backoff_s
from lineguard.server.integrations.schemas import StatusUpdate, WorkOrder
from lineguard.server.integrations.service import (
    list_deliveries,
    overview_destinations,
    queue_work_order,
    replay,
    replay_in_transaction,
)
from lineguard.server.integrations.signing import sign, verify
from lineguard.server.integrations.state import IntegrationsState
from lineguard.server.integrations.status import OnClosed, StatusOutcome, receive_status

__all__ = [
    "CONNECTORS",
    "DELIVERY_ACTOR",
    "SEALED_CATEGORY",
    "CmmsDeliveryRow",
    "Connector",
    "Delivered",
    "Dispatcher",
    "IntegrationCursorRow",
    "IntegrationsState",
    "OnClosed",
    "ProbeResult",
    "RoundReport",
    "StatusOutcome",
    "StatusUpdate",
    "SyncReport",
    "WorkOrder",
    "backoff_s",
    "build_connector",
    "list_deliveries",
    "overview_destinations",
    "probe",
    "queue_work_order",
    "receive_status",
    "replay",
    "replay_in_transaction",
    "sign",
    "sync_erp",
    "verify",
]
