"""What every CMMS connector is: ``deliver(order, http) -> Delivered``, and how answers are judged.

A connector maps a :class:`WorkOrder` to its product's request(s), sends them through the
egress gate's :class:`GatedHttp` and turns the answer into a :class:`Delivered` (the
CMMS's id for the order) or an :class:`UpstreamError` that says whether retrying can
help: 408/425/429 and 5xx, timeouts and dropped connections can; other 4xx, a redirect
off the allowlist or an untrusted certificate cannot. A 2xx whose body says it failed
(or is not the JSON the product documents) is a failure too: a CMMS that lies about
success must not make a work order vanish.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from lineguard.contracts.errors import UpstreamError
from lineguard.server.egress import GatedHttp, HttpResult
from lineguard.server.integrations.schemas import WorkOrder

__all__ = ["Connector", "Delivered", "check_status", "json_object", "require_key_length"]

_RETRYABLE_4XX = {408, 425, 429}


@dataclass(frozen=True, slots=True)
class Delivered:
    """The CMMS accepted the order; ``external_id`` is its id for it (None if it gave none)."""

    external_id: str | None


class Connector(Protocol):
    """One CMMS destination. ``name`` and ``target`` are shown; credentials never are."""

    kind: ClassVar[str]
    name: str
    target: str

    def deliver(self, order: WorkOrder, http: GatedHttp) -> Delivered: ...


def check_status(result: HttpResult, *, name: str) -> None:
    """Nothing for a 2xx; an :class:`UpstreamError` (retryable or not) for anything else."""
    if 200 <= result.status < 300:
        return
    retryable = result.status in _RETRYABLE_4XX or result.status >= 500
    msg = f"{name}: {result.url} answered HTTP {result.status}"
    raise UpstreamError(msg, retryable=retryable)


def json_object(result: HttpResult, *, name: str) -> dict[str, Any]:
    """The body as a JSON object; a retryable :class:`UpstreamError` when it is not one."""
    try:
        body = json.loads(result.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        msg = f"{name}: {result.url} answered {result.status} with a body that is not a JSON object"
        raise UpstreamError(msg, retryable=True)
    return body


def error_in_body(body: dict[str, Any]) -> str | None:
    """The error a 2xx body reports, if any (``error``, ``errors``, ``success: false``, ``ok: false``)."""
    for key in ("error", "errors"):
        if body.get(key):
            return key
    for key in ("success", "ok"):
        if body.get(key) is False:
            return f"{key}: false"
    return None


def require_key_length(name: str, key: bytes, minimum: int) -> bytes:
    if len(key) < minimum:
        msg = f"{name}: the signing key must be at least {minimum} bytes"
        raise UpstreamError(msg, retryable=False)
    return key
