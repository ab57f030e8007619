"""Real HTTP servers that behave like the CMMS products LineGuard talks to, and misbehave on cue.

Each fake validates the request shape its product documents (path, method, auth
header, body fields and types, SAP's CSRF handshake) and answers a violation with
``400`` plus an entry in ``violations`` — a test that sends the wrong shape fails
loudly. ``faults`` is a script consumed one entry per create request (``"ok"`` for a
normal answer): ``"500"``, ``"503"``, ``"429"``, ``"400"``, ``"timeout"`` (no answer
within the client's timeout, nothing created), ``"slow"`` (late but in time),
``"drop"`` (connection cut, nothing created), ``"drop_after_create"`` and
``"timeout_after_create"`` (created, answer lost: a duplicate risk), ``"error_body"``
(2xx whose body reports an error), ``"redirect"`` (to another host),
``"oversized"`` (a body over the client's limit), ``"csrf_expired"`` (SAP only).
Only the webhook fake deduplicates by ``Idempotency-Key``, as the webhook contract asks;
the product fakes do not, as their public APIs document no such key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
from typing import Any

from tests.support.http_stub import HttpStub, Reply, StubRequest
from tests.support.test_pki import Leaf

__all__ = ["FakeCmms", "FakeMaintainX", "FakeSapPm", "FakeUpKeep", "FakeWebhook"]

LATE_S = 1.5  # longer than the read timeout tests give the client


class FakeCmms:
    create_method = "POST"
    create_path = ""
    honours_idempotency = False

    def __init__(
        self, *, tls: Leaf | None = None, faults: list[str] | None = None, redirect_to: str = ""
    ) -> None:
        self.faults = list(faults or [])
        self.created: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, str] = {}
        self.violations: list[str] = []
        self.create_attempts = 0
        self.redirect_to = redirect_to or "http://127.0.0.2:9/elsewhere"
        self._ids = itertools.count(1001)
        self._lock = threading.Lock()
        self.stub = HttpStub(self._handle, tls=tls)

    def __enter__(self) -> FakeCmms:
        self.stub.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stub.__exit__(None, None, None)

    @property
    def port(self) -> int:
        return self.stub.port

    def url(self, host: str = "127.0.0.1") -> str:
        return self.stub.url(host)

    # -- product specifics -----------------------------------------------------------------

    def check(self, request: StubRequest, body: Any) -> list[str]:
        raise NotImplementedError

    def answer(self, external_id: str) -> Reply:
        raise NotImplementedError

    def error_answer(self) -> Reply:
        return Reply(200, json.dumps({"error": "validation failed"}).encode())

    def other(self, request: StubRequest) -> Reply:
        return Reply(404, b'{"error": "no such route"}')

    # -- the common part ---------------------------------------------------------------------

    def _violation(self, problems: list[str]) -> Reply:
        with self._lock:
            self.violations.extend(problems)
        return Reply(400, json.dumps({"error": problems}).encode())

    def _create(self, request: StubRequest, body: dict[str, Any]) -> tuple[str, bool]:
        key = request.header("idempotency-key") or ""
        with self._lock:
            if self.honours_idempotency and key in self.by_key:
                return self.by_key[key], False
            external_id = str(next(self._ids))
            self.created[external_id] = body
            if key:
                self.by_key.setdefault(key, external_id)
            return external_id, True

    def _handle(self, request: StubRequest) -> Reply:
        if request.method != self.create_method or request.path.split("?")[0] != self.create_path:
            return self.other(request)
        try:
            body = json.loads(request.body)
        except ValueError:
            return self._violation(["body is not JSON"])
        problems = self.check(request, body)
        if problems:
            return self._violation(problems)
        with self._lock:
            self.create_attempts += 1
            fault = self.faults.pop(0) if self.faults else "ok"
        if fault in {"500", "503", "429", "400"}:
            return Reply(int(fault), b'{"message": "injected"}')
        if fault == "timeout":
            return Reply(500, b"{}", delay_s=LATE_S)
        if fault == "drop":
            return Reply(drop=True)
        if fault == "error_body":
            return self.error_answer()
        if fault == "redirect":
            return Reply(302, b"", headers={"Location": self.redirect_to})
        if fault == "oversized":
            return Reply(200, b'{"id": "' + b"x" * 200_000 + b'"}')
        if fault == "csrf_expired":
            return Reply(403, b"", headers={"x-csrf-token": "Required"})
        external_id, new = self._create(request, body)
        if fault == "drop_after_create":
            return Reply(drop=True)
        if fault == "timeout_after_create":
            return Reply(500, b"{}", delay_s=LATE_S)
        reply = self.answer(external_id)
        if not new:
            reply = Reply(409, json.dumps({"id": external_id}).encode())
        if fault == "slow":
            reply.delay_s = 0.05
        return reply


def _fields(body: Any, allowed: dict[str, type | tuple[type, ...]], required: set[str]) -> list[str]:
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    problems = [f"unknown field {k!r}" for k in body if k not in allowed]
    problems += [f"missing field {k!r}" for k in sorted(required - body.keys())]
    problems += [
        f"{k} must be {allowed[k]}" for k, v in body.items() if k in allowed and not isinstance(v, allowed[k])
    ]
    return problems


class FakeWebhook(FakeCmms):
    create_path = "/hooks/work-orders"
    honours_idempotency = True
    ORDER_FIELDS = {
        "work_order_id", "idempotency_key", "title", "description", "priority", "site_id", "line_id",
        "station_id", "camera_id", "asset_id", "location_id", "defect_class", "evidence_ref", "source",
        "created_at",
    }  # fmt: skip

    def __init__(self, *, key_id: str, secret: str, window_s: int = 300, **kw: Any) -> None:
        super().__init__(**kw)
        self.key_id, self.secret, self.window_s = key_id, secret.encode(), window_s

    def check(self, request: StubRequest, body: Any) -> list[str]:
        problems = []
        if request.header("content-type") != "application/json":
            problems.append("Content-Type must be application/json")
        if not request.header("idempotency-key"):
            problems.append("Idempotency-Key missing")
        ts, sig = request.header("x-lineguard-timestamp") or "", request.header("x-lineguard-signature") or ""
        if request.header("x-lineguard-key-id") != self.key_id:
            problems.append("unknown key id")
        elif not ts.isdigit() or abs(time.time() - int(ts)) > self.window_s:
            problems.append("timestamp outside the replay window")
        else:
            mac = hmac.new(self.secret, ts.encode() + b"." + request.body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(sig, f"v1={mac}"):
                problems.append("bad signature")
        if (
            not isinstance(body, dict)
            or body.get("type") != "lineguard.work_order"
            or body.get("version") != 1
        ):
            return [*problems, "not a lineguard.work_order v1 document"]
        order = body.get("work_order")
        if not isinstance(order, dict) or set(order) != self.ORDER_FIELDS:
            problems.append(f"work_order fields differ: {sorted(set(order or {}) ^ self.ORDER_FIELDS)}")
        elif order["idempotency_key"] != request.header("idempotency-key"):
            problems.append("Idempotency-Key differs from the body's")
        return problems

    def answer(self, external_id: str) -> Reply:
        return Reply(201, json.dumps({"id": external_id}).encode())


class FakeMaintainX(FakeCmms):
    create_path = "/v1/workorders"

    def __init__(self, *, api_key: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.api_key = api_key

    def check(self, request: StubRequest, body: Any) -> list[str]:
        problems = [] if request.header("authorization") == f"Bearer {self.api_key}" else ["bad bearer token"]
        problems += _fields(
            body,
            {
                "title": str,
                "description": str,
                "priority": str,
                "assetId": int,
                "locationId": int,
                "categories": list,
            },
            {"title"},
        )
        if isinstance(body, dict):
            if body.get("priority", "NONE") not in {"NONE", "LOW", "MEDIUM", "HIGH"}:
                problems.append("priority must be NONE/LOW/MEDIUM/HIGH")
            if not all(isinstance(c, str) for c in body.get("categories", [])):
                problems.append("categories must be strings")
        return problems

    def answer(self, external_id: str) -> Reply:
        return Reply(201, json.dumps({"id": int(external_id)}).encode())


class FakeUpKeep(FakeCmms):
    create_path = "/api/v2/work-orders"

    def __init__(self, *, token: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.token = token

    def check(self, request: StubRequest, body: Any) -> list[str]:
        problems = [] if request.header("session-token") == self.token else ["bad Session-Token"]
        problems += _fields(
            body,
            {"title": str, "description": str, "priority": int, "asset": str, "location": str},
            {"title"},
        )
        if isinstance(body, dict) and body.get("priority", 0) not in {0, 1, 2, 3}:
            problems.append("priority must be 0-3")
        return problems

    def answer(self, external_id: str) -> Reply:
        return Reply(200, json.dumps({"success": True, "result": {"id": f"uk{external_id}"}}).encode())

    def error_answer(self) -> Reply:
        return Reply(200, json.dumps({"success": False, "message": "invalid"}).encode())


class FakeSapPm(FakeCmms):
    create_path = "/sap/opu/odata/sap/API_MAINTNOTIFICATION/MaintenanceNotification"

    def __init__(self, *, user: str, password: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.tokens: dict[str, str] = {}  # csrf token -> session cookie
        self.fetches = 0

    def other(self, request: StubRequest) -> Reply:
        if request.method == "GET" and request.path.startswith(f"{self.create_path}?"):
            if request.header("authorization") != self.auth:
                return self._violation(["token fetch without basic auth"])
            if (request.header("x-csrf-token") or "").lower() != "fetch":
                return self._violation(["token fetch without x-csrf-token: fetch"])
            with self._lock:
                self.fetches += 1
                token, session = f"tok{self.fetches}", f"sess{self.fetches}"
                self.tokens[token] = session
            return Reply(
                200,
                b'{"d": {"results": []}}',
                headers={
                    "Content-Type": "application/json",
                    "x-csrf-token": token,
                    "Set-Cookie": f"SAP_SESSIONID_X={session}; path=/; HttpOnly",
                },
            )
        return super().other(request)

    def check(self, request: StubRequest, body: Any) -> list[str]:
        problems = [] if request.header("authorization") == self.auth else ["bad basic auth"]
        token = request.header("x-csrf-token") or ""
        session = self.tokens.get(token)
        if session is None:
            problems.append("unknown CSRF token")
        elif f"SAP_SESSIONID_X={session}" not in (request.header("cookie") or ""):
            problems.append("CSRF token without its session cookie")
        problems += _fields(
            body,
            {
                "NotificationText": str, "NotificationType": str, "MaintPriority": str,
                "TechnicalObject": str,
                "TechObjIsEquipOrFuncnlLoc": str, "MaintNotifLongTextForEdit": str,
            },
            {"NotificationText", "NotificationType"},
        )  # fmt: skip
        if isinstance(body, dict):
            if len(body.get("NotificationText", "")) > 40:
                problems.append("NotificationText longer than 40")
            if body.get("MaintPriority", "1") not in {"1", "2", "3", "4"}:
                problems.append("MaintPriority must be 1-4")
        return problems

    def answer(self, external_id: str) -> Reply:
        number = f"1000{external_id}"
        return Reply(201, json.dumps({"d": {"MaintenanceNotification": number}}).encode())

    def error_answer(self) -> Reply:
        return Reply(201, json.dumps({"error": {"code": "IW/001", "message": {"value": "invalid"}}}).encode())
