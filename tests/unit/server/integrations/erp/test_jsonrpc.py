"""The JSON-RPC client against an ERP that misbehaves: a real HTTP server on loopback whose
answers the test scripts (tests/support/http_stub.py), reached through the real egress gate."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lineguard.config.egress import EgressConfig
from lineguard.contracts.errors import UpstreamError
from lineguard.server.egress import EgressGate, GatedHttp
from lineguard.server.integrations.erp import TrytonClient
from tests.support.http_stub import HttpStub, Reply, StubRequest

LOGIN = {"id": 1, "result": [7, "session-token", None]}
PREFERENCES = {"id": 2, "result": {"company": 1, "language": "en", "employees": []}}


def _json(value: Any) -> Reply:
    return Reply(body=json.dumps(value).encode())


@pytest.fixture
def erp_stub() -> Iterator[Callable[[Callable[[StubRequest], Reply]], tuple[TrytonClient, HttpStub]]]:
    stubs: list[HttpStub] = []

    def start(
        answer: Callable[[StubRequest], Reply], read_timeout_s: float = 10.0
    ) -> tuple[TrytonClient, HttpStub]:
        def handler(request: StubRequest) -> Reply:
            method = json.loads(request.body)["method"]
            if method == "common.db.login":
                return _json(LOGIN)
            if method == "model.res.user.get_preferences":
                return _json(PREFERENCES)
            return answer(request)

        stub = HttpStub(handler).__enter__()
        stubs.append(stub)
        config = EgressConfig.model_validate(
            {"allow": [{"scheme": "http", "host": "127.0.0.1", "port": stub.port}],
             "read_timeout_s": read_timeout_s, "max_response_bytes": 4096}
        )  # fmt: skip
        http = GatedHttp(EgressGate(config), purpose="erp:test")
        client = TrytonClient(http, url=stub.url(), database="plant", name="erp")
        client.login("reader", "pw")
        return client, stub

    yield start
    for stub in stubs:
        stub.__exit__(None, None, None)


def test_search_read_pages_by_id_and_sends_the_session_and_company(erp_stub: Any) -> None:
    pages = [[{"id": 1}, {"id": 4}], [{"id": 9}]]

    def answer(request: StubRequest) -> Reply:
        return _json({"id": 3, "result": pages.pop(0)})

    client, stub = erp_stub(answer)
    got = list(client.search_read("sale.sale", [("state", "=", "quotation")], ["number"], page_size=2))
    assert [r["id"] for r in got] == [1, 4, 9]
    calls = [
        json.loads(r.body) for r in stub.requests if json.loads(r.body)["method"].startswith("model.sale")
    ]
    assert [c["params"][0][1] for c in calls] == [["id", ">", 0], ["id", ">", 4]]
    assert all(c["params"][-1] == {"company": 1, "language": "en"} for c in calls)
    assert all(r.header("authorization") or "".startswith("Session ") for r in stub.requests[1:])


@pytest.mark.parametrize(
    ("reply", "expected", "retryable"),
    [
        (Reply(status=500, body=b"boom"), "answered HTTP 500", True),
        (Reply(status=404, body=b""), "is erp.database right", False),
        (Reply(status=429, body=b""), "throttling", True),
        (Reply(body=b"<html>proxy login</html>"), "not JSON-RPC", True),
        (_json({"id": 3, "result": {"not": "a list"}}), "not a list", True),
        (_json({"id": 3, "result": [{"number": "no id"}]}), "record without an id", True),
        (_json({"id": 3, "error": ["UserError", ["Canary-991 costs 12.34", ""]]}), "(UserError)", False),
        (_json({"id": 3, "result": [{"id": 1, "d": {"__class__": "date", "day": 1}}]}), "cannot hold", True),
        (Reply(body=b"[" + b"1," * 5000 + b"1]"), "over the 4096-byte limit", False),
        (Reply(delay_s=4), "timed out", True),
    ],
)  # fmt: skip
def test_a_misbehaving_erp_is_a_typed_error_that_quotes_no_data(
    erp_stub: Any, reply: Reply, expected: str, retryable: bool
) -> None:
    # Only the slow reply's case reads with a short timeout (1 s against a 4 s delay): with
    # 0.5 s for every case, the sign-in's own loopback requests timed out at load ~6 (CI with
    # three workers) and the test failed before reaching the reply it is about.
    client, _ = erp_stub(lambda request: reply, read_timeout_s=1.0 if reply.delay_s else 10.0)
    with pytest.raises(UpstreamError) as caught:
        list(client.search_read("sale.sale", [], ["number"], page_size=10))
    assert expected in caught.value.message and caught.value.retryable is retryable
    assert "Canary" not in caught.value.message and "12.34" not in caught.value.message
