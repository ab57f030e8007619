"""The egress gate: allowlist matching, resolve-once, rebinding, pinned TLS, redirects, limits.

Real sockets and real TLS against loopback servers (:class:`HttpStub`); only DNS is
faked (a resolver function), because a test cannot make the system resolver lie.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from lineguard.config.egress import EgressConfig, EgressRule
from lineguard.contracts.errors import EgressDeniedError, UpstreamError
from lineguard.server.egress import Denial, Destination, EgressGate, GatedHttp, IpAddress
from tests.support.http_stub import HttpStub, Reply, StubRequest
from tests.support.test_pki import TestCa

LOOPBACK = ipaddress.ip_address("127.0.0.1")


class Resolver:
    """A DNS that answers from a script, one answer list per lookup, and counts lookups."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = [[ipaddress.ip_address(a) for a in answer] for answer in answers]
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[IpAddress]:
        self.calls.append(host)
        index = min(len(self.calls) - 1, len(self.answers) - 1)
        return self.answers[index]


def _gate(
    rules: list[dict[str, Any]], *, resolver: Resolver | None = None, **config: Any
) -> tuple[EgressGate, list[Denial]]:
    denials: list[Denial] = []
    gate = EgressGate(
        EgressConfig(allow=[EgressRule(**r) for r in rules], **config),
        resolver=resolver or Resolver(["127.0.0.1"]),
        on_denied=denials.append,
    )
    return gate, denials


@pytest.fixture
def connects() -> Iterator[list[tuple[str, int]]]:
    """Every ``socket.connect`` address of this thread while the test runs (Python audit hook)."""
    seen: list[tuple[str, int]] = []
    active = [True]
    me = threading.get_ident()

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if active[0] and event == "socket.connect" and threading.get_ident() == me:
            address = args[1]
            if isinstance(address, tuple):
                seen.append((str(address[0]), int(address[1])))

    sys.addaudithook(hook)  # audit hooks cannot be removed: the flag turns it off
    yield seen
    active[0] = False


# -- allowlist -------------------------------------------------------------------------


def test_exact_scheme_host_and_port_or_refused_and_reported() -> None:
    gate, denials = _gate([{"scheme": "https", "host": "cmms.plant.test", "port": 443}])
    assert gate.check(Destination("https", "CMMS.plant.test", 443), purpose="t").address == LOOPBACK
    for dest in (
        Destination("http", "cmms.plant.test", 443),
        Destination("https", "cmms.plant.test", 8443),
        Destination("https", "evil.test", 443),
        Destination("https", "x.cmms.plant.test", 443),
    ):
        with pytest.raises(EgressDeniedError, match="not in the egress allowlist"):
            gate.check(dest, purpose="cmms:x")
    assert [str(d.destination) for d in denials] == [
        "http://cmms.plant.test:443",
        "https://cmms.plant.test:8443",
        "https://evil.test:443",
        "https://x.cmms.plant.test:443",
    ]
    assert gate.denied == 4 and gate.last_denial is denials[-1]


def test_wildcards_are_refused_in_config_unless_opted_in() -> None:
    with pytest.raises(ValidationError, match="allow_wildcards"):
        EgressConfig(allow=[EgressRule(scheme="https", host="*.plant.test", port=443)])
    gate, _ = _gate([{"scheme": "https", "host": "*.plant.test", "port": 443}], allow_wildcards=True)
    assert gate.check(Destination("https", "a.b.plant.test", 443), purpose="t")
    with pytest.raises(EgressDeniedError):
        gate.check(Destination("https", "plant.test", 443), purpose="t")


@pytest.mark.parametrize("bad", ["not a host", "a/b", "", "http://x"])
def test_malformed_rule_hosts_are_config_errors(bad: str) -> None:
    with pytest.raises(ValidationError):
        EgressRule(scheme="https", host=bad, port=443)


def test_bad_address_networks_are_config_errors() -> None:
    with pytest.raises(ValidationError, match="not an IP network"):
        EgressRule(scheme="https", host="a.test", port=443, addresses=["10.0.0.0/33"])


# -- DNS ---------------------------------------------------------------------------------


def test_name_is_resolved_once_and_the_connection_goes_to_that_address(
    connects: list[tuple[str, int]],
) -> None:
    # The resolver flips to another address after the first answer (a rebinding DNS).
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        resolver = Resolver(["127.0.0.1"], ["10.9.9.9"])
        gate, _ = _gate(
            [{"scheme": "syslog+tcp", "host": "siem.plant.test", "port": port}], resolver=resolver
        )
        with gate.open_tcp(Destination("syslog+tcp", "siem.plant.test", port), purpose="siem"):
            pass
    assert resolver.calls == ["siem.plant.test"]
    assert connects == [("127.0.0.1", port)]


def test_rebinding_to_an_address_outside_the_rule_is_refused(connects: list[tuple[str, int]]) -> None:
    resolver = Resolver(["10.66.0.7"])
    gate, denials = _gate(
        [{"scheme": "https", "host": "cmms.plant.test", "port": 443, "addresses": ["127.0.0.0/8"]}],
        resolver=resolver,
    )
    with pytest.raises(EgressDeniedError, match=r"10\.66\.0\.7, outside the rule's addresses 127\.0\.0\.0/8"):
        gate.open_tcp(Destination("https", "cmms.plant.test", 443), purpose="cmms:x")
    assert connects == [] and len(denials) == 1


@pytest.mark.parametrize(
    ("answer", "label"),
    [
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("fe80::1", "link-local"),
    ],
)
def test_dangerous_addresses_are_refused_without_an_explicit_network(answer: str, label: str) -> None:
    gate, _ = _gate(
        [{"scheme": "https", "host": "cmms.plant.test", "port": 443}], resolver=Resolver([answer])
    )
    with pytest.raises(EgressDeniedError, match=label):
        gate.check(Destination("https", "cmms.plant.test", 443), purpose="t")


def test_first_acceptable_address_is_used() -> None:
    gate, _ = _gate(
        [{"scheme": "https", "host": "cmms.plant.test", "port": 443}],
        resolver=Resolver(["169.254.1.1", "127.0.0.1"]),
    )
    assert gate.check(Destination("https", "cmms.plant.test", 443), purpose="t").address == LOOPBACK


def test_unresolvable_name_is_a_retryable_upstream_error() -> None:
    def fail(host: str, port: int) -> list[IpAddress]:
        raise socket.gaierror(-2, "Name or service not known")

    gate = EgressGate(
        EgressConfig(allow=[EgressRule(scheme="https", host="cmms.plant.test", port=443)]), resolver=fail
    )
    with pytest.raises(UpstreamError, match=r"cannot resolve cmms\.plant\.test") as info:
        gate.check(Destination("https", "cmms.plant.test", 443), purpose="t")
    assert info.value.retryable


# -- HTTP(S) -------------------------------------------------------------------------------


@pytest.fixture
def plant_ca(tmp_path: Path) -> TestCa:
    return TestCa(tmp_path / "plant", "plant")


def test_https_to_a_name_verifies_the_certificate_against_the_name_and_the_pinned_ca(
    plant_ca: TestCa, tmp_path: Path, connects: list[tuple[str, int]]
) -> None:
    leaf = plant_ca.issue(["cmms.plant.test"], stem="cmms")
    with HttpStub(lambda r: Reply(body=b'{"ok": true}'), tls=leaf) as stub:
        gate, _ = _gate(
            [{"scheme": "https", "host": "cmms.plant.test", "port": stub.port, "ca_file": plant_ca.cert_path}]
        )
        result = GatedHttp(gate, purpose="cmms:x").request(
            "GET", f"https://cmms.plant.test:{stub.port}/v1/ping"
        )
    assert result.status == 200 and result.body == b'{"ok": true}'
    assert stub.requests[0].header("host") == f"cmms.plant.test:{stub.port}"
    assert connects == [("127.0.0.1", stub.port)]


def test_certificate_from_another_ca_is_refused_and_not_retryable(plant_ca: TestCa, tmp_path: Path) -> None:
    other = TestCa(tmp_path / "other", "other")
    leaf = other.issue(["cmms.plant.test"], stem="impostor")
    with HttpStub(lambda r: Reply(), tls=leaf) as stub:
        gate, _ = _gate(
            [{"scheme": "https", "host": "cmms.plant.test", "port": stub.port, "ca_file": plant_ca.cert_path}]
        )
        with pytest.raises(UpstreamError, match="not trusted") as info:
            GatedHttp(gate, purpose="cmms:x").request(
                "POST", f"https://cmms.plant.test:{stub.port}/x", content=b"{}"
            )
    assert not info.value.retryable
    assert stub.requests == []  # nothing was sent to the impostor


def test_certificate_for_another_name_is_refused(plant_ca: TestCa) -> None:
    leaf = plant_ca.issue(["other.plant.test"], stem="other-name")
    with HttpStub(lambda r: Reply(), tls=leaf) as stub:
        gate, _ = _gate(
            [{"scheme": "https", "host": "cmms.plant.test", "port": stub.port, "ca_file": plant_ca.cert_path}]
        )
        with pytest.raises(UpstreamError, match="not trusted"):
            GatedHttp(gate, purpose="t").request("GET", f"https://cmms.plant.test:{stub.port}/")


def test_redirect_to_a_host_off_the_allowlist_is_refused_before_connecting(
    connects: list[tuple[str, int]],
) -> None:
    with (
        HttpStub(lambda r: Reply(body=b"secret-sink")) as elsewhere,
        HttpStub(
            lambda r: Reply(status=302, headers={"Location": f"http://127.0.0.2:{elsewhere.port}/steal"})
        ) as stub,
    ):
        gate, denials = _gate([{"scheme": "http", "host": "127.0.0.1", "port": stub.port}], max_redirects=3)
        with pytest.raises(EgressDeniedError, match=r"http://127\.0\.0\.2:\d+ refused"):
            GatedHttp(gate, purpose="cmms:x").request("POST", f"{stub.url()}/wo", content=b"{}")
    assert elsewhere.requests == []
    assert connects == [("127.0.0.1", stub.port)]
    assert denials[0].reason == "not in the egress allowlist"


def test_redirects_within_the_allowlist_follow_up_to_the_limit() -> None:
    with (
        HttpStub(lambda r: Reply(body=b'{"id": 1}')) as target,
        HttpStub(lambda r: Reply(status=307, headers={"Location": f"{target.url()}/moved"})) as stub,
    ):
        rules = [{"scheme": "http", "host": "127.0.0.1", "port": p} for p in (stub.port, target.port)]
        gate, _ = _gate(rules, max_redirects=1)
        result = GatedHttp(gate, purpose="t").request("POST", f"{stub.url()}/wo", content=b'{"a": 1}')
        assert result.status == 200 and target.requests[0].body == b'{"a": 1}'  # 307 keeps the body
        gate0, _ = _gate(rules, max_redirects=0)
        with pytest.raises(UpstreamError, match="max_redirects is 0"):
            GatedHttp(gate0, purpose="t").request("POST", f"{stub.url()}/wo", content=b"{}")
    assert len(target.requests) == 1


@pytest.mark.parametrize("declared", [True, False])
def test_oversized_response_is_refused(declared: bool) -> None:
    big = b"x" * 5000
    headers = {"Content-Type": "application/json"}
    if not declared:
        headers["Transfer-Encoding"] = "chunked"
        body = f"{len(big):x}\r\n".encode() + big + b"\r\n0\r\n\r\n"
    else:
        body = big
    with HttpStub(lambda r: Reply(body=body, headers=headers)) as stub:
        gate, _ = _gate([{"scheme": "http", "host": "127.0.0.1", "port": stub.port}], max_response_bytes=1024)
        with pytest.raises(UpstreamError, match="1024-byte limit") as info:
            GatedHttp(gate, purpose="t").request("GET", f"{stub.url()}/big")
    assert not info.value.retryable


def test_timeout_and_dropped_connection_are_retryable() -> None:
    def slow_or_drop(r: StubRequest) -> Reply:
        return Reply(delay_s=1.0) if r.path == "/slow" else Reply(drop=True)

    with HttpStub(slow_or_drop) as stub:
        rules = [{"scheme": "http", "host": "127.0.0.1", "port": stub.port}]
        # The short read timeout only where the timeout is the case: under load the dropped
        # connection's answer can take longer than 0.2 s, and it must fail as dropped.
        impatient, _ = _gate(rules, read_timeout_s=0.2)
        patient, _ = _gate(rules, read_timeout_s=60)
        with pytest.raises(UpstreamError, match="timed out") as slow:
            GatedHttp(impatient, purpose="t").request("GET", f"{stub.url()}/slow")
        with pytest.raises(UpstreamError, match="failed") as dropped:
            GatedHttp(patient, purpose="t").request("GET", f"{stub.url()}/drop")
    assert slow.value.retryable and dropped.value.retryable


def test_environment_proxies_are_ignored(
    monkeypatch: pytest.MonkeyPatch, connects: list[tuple[str, int]]
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.3:3128")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.3:3128")
    with HttpStub(lambda r: Reply()) as stub:
        gate, _ = _gate([{"scheme": "http", "host": "127.0.0.1", "port": stub.port}])
        assert GatedHttp(gate, purpose="t").request("GET", f"{stub.url()}/").status == 200
    assert connects == [("127.0.0.1", stub.port)]


def test_non_http_schemes_are_refused_by_the_http_door() -> None:
    gate, _ = _gate([{"scheme": "https", "host": "127.0.0.1", "port": 443}])
    with pytest.raises(EgressDeniedError):
        GatedHttp(gate, purpose="t").request("GET", "ftp://127.0.0.1:443/x")
