"""The node's remote-view worker against a real plant server over mTLS.

A node enrolled through the server's own services long-polls for evidence requests with
its client certificate; a quality engineer signed in over HTTPS opens evidence and polls
the view: the redacted JPEG arrives once, byte for byte what the node stored; evidence
the node no longer holds, and uploads over the node's hourly limit, come back as the
node's refusal (409). Waits are for an outcome with a generous deadline, never a sleep
followed by an assertion.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.e2e.plant import SITE, Plant, add_person, running_plant, send
from tests.support.evidence_node import EvidenceNode, enroll_evidence_node, failed_event, put_evidence
from tests.support.evidence_views import sign_in

from lineguard.contracts.ids import new_id
from lineguard.edge.evidence.remote_view import REQUESTS_PATH, RemoteViewWorker
from lineguard.edge.identity import https_client
from lineguard.server.auth.catalog import Role
from lineguard.server.limits import TokenBuckets

pytestmark = pytest.mark.slow

DEADLINE_S = 60.0


@dataclass
class Relay:
    plant: Plant
    node: EvidenceNode
    worker: RemoteViewWorker
    browser: httpx.Client
    csrf: str


def _record(relay: Relay, *, stored: bool) -> str:
    evidence_ref = new_id("evd")
    event = failed_event(relay.node, evidence_ref=evidence_ref)
    send(relay.plant, relay.node.identity, [event], [])
    if stored:
        put_evidence(relay.node, evidence_id=evidence_ref, event_id=event["event_id"], camera_id="cam-1")
    return str(event["event_id"])


def _enrolled(plant: Plant, data_dir: Path, node_id: str) -> EvidenceNode:
    ca = plant.context.ca.get()
    return enroll_evidence_node(
        plant.context,
        ca,
        data_dir,
        node_id=node_id,
        site_id=SITE,
        line_id="line-1",
        camera_ids=["cam-1"],
        server_url=plant.url,
    )


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Relay]:
    with running_plant(tmp_path / "server", seed=False) as plant:
        node = _enrolled(plant, tmp_path / "node", "edge-rv")
        stop = threading.Event()
        worker = RemoteViewWorker(
            stop,
            store=node.store,
            client_factory=lambda: https_client(node.data_dir, plant.url),
            per_hour=1,
            wait_s=2.0,
        )
        worker.start()
        add_person(plant, "quinn.quality", (Role.QUALITY_ENGINEER,))
        browser, csrf = sign_in(plant, plant.url, "quinn.quality")
        try:
            yield Relay(plant, node, worker, browser, csrf)
        finally:
            stop.set()
            worker.join(30)
            browser.close()
            node.store.close()


def _view(relay: Relay, event_id: str) -> httpx.Response:
    r = relay.browser.post(
        f"/api/v1/dashboard/records/{event_id}/evidence",
        json={"purpose": "defect review"},
        headers={"X-CSRF-Token": relay.csrf},
    )
    assert r.status_code == 202, r.text
    url = r.json()["view_url"]
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        answer = relay.browser.get(url)
        if answer.status_code != 202:
            return answer
        time.sleep(0.1)
    pytest.fail(f"the view {url} was still pending after {DEADLINE_S:.0f} s")


def _counted(relay: Relay, **expected: int) -> None:
    """The worker's counters reach ``expected``. It counts an answer after the server took
    it (204), so the viewer may be shown the image before the worker's thread has counted:
    wait for the count (bounded), then require it exactly."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if all(getattr(relay.worker, name) >= n for name, n in expected.items()):
            break
        time.sleep(0.05)
    assert {name: getattr(relay.worker, name) for name in expected} == expected


def test_the_node_answers_over_mtls_with_the_image_then_with_refusals(relay: Relay) -> None:
    shown = _view(relay, _record(relay, stored=True))
    assert shown.status_code == 200, shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert shown.content[:3] == b"\xff\xd8\xff"
    [evidence_ref] = [r.evidence_id for r in relay.node.store.records()]
    assert shown.content == relay.node.store.read(evidence_ref)
    _counted(relay, uploaded=1)
    assert relay.worker.polls >= 1

    gone = _view(relay, _record(relay, stored=False))
    assert gone.status_code == 409 and gone.json()["code"] == "evidence_refused"
    assert "no longer holds" in gone.json()["message"]

    limited = _view(relay, _record(relay, stored=True))  # per_hour=1: the second image is refused
    assert limited.status_code == 409 and "hourly limit" in limited.json()["message"]
    _counted(relay, uploaded=1, refused=2)


def test_node_polls_are_rate_limited_per_node(tmp_path: Path) -> None:
    with running_plant(tmp_path / "server", seed=False) as plant:
        node = _enrolled(plant, tmp_path / "node", "edge-poll")
        # A bucket that never refills: the third poll in a row is over the limit, however slow the machine.
        plant.context.evidence_views.poll_buckets = TokenBuckets(rate=1e-9, burst=2, clock=lambda: 0.0)
        with https_client(node.data_dir, plant.url) as client:
            answers = [client.get(REQUESTS_PATH, params={"wait": 0}) for _ in range(3)]
        node.store.close()
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].json() == {"requests": []}
    assert int(answers[2].headers["retry-after"]) >= 1
