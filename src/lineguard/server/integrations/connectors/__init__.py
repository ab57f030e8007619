"""CMMS connectors, one small adapter per product behind :class:`Connector`, built from config by a registry.

``build_connector(destination_config)`` looks the config's class up in
:data:`CONNECTORS` (the ``kind`` union of ``lineguard.config.integrations``): adding a
product is one module and one registry entry, never another branch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lineguard.config.integrations import (
    CmmsDestination,
    MaintainXDestination,
    SapPmDestination,
    UpKeepDestination,
    WebhookDestination,
)
from lineguard.server.integrations.connectors.base import Connector, Delivered
from lineguard.server.integrations.connectors.maintainx import MaintainXConnector
from lineguard.server.integrations.connectors.sap_pm import SapPmConnector
from lineguard.server.integrations.connectors.upkeep import UpKeepConnector
from lineguard.server.integrations.connectors.webhook import WebhookConnector, webhook_body

__all__ = ["CONNECTORS", "Connector", "Delivered", "build_connector", "webhook_body"]

#: destination config class → connector built from it.
CONNECTORS: dict[type[Any], Callable[[Any], Connector]] = {
    WebhookDestination: WebhookConnector,
    MaintainXDestination: MaintainXConnector,
    UpKeepDestination: UpKeepConnector,
    SapPmDestination: SapPmConnector,
}


def build_connector(config: CmmsDestination) -> Connector:
    return CONNECTORS[type(config)](config)
