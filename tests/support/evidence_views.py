"""A plant with a node and two quality engineers, and the browser's side of a remote evidence view.

Shared by the multi-replica relay tests and ``bench/bench_evidence_relay.py``: the node is
enrolled and the people added through a ``ServerContext``'s services (an app that need not
be served), the browser signs in with password + TOTP and opens views over HTTPS.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import numpy as np

from lineguard.contracts.ids import new_id
from lineguard.server.auth.catalog import Role
from lineguard.server.context import ServerContext
from lineguard.server.pki import ca_paths
from tests.e2e.plant import Plant, add_person, send
from tests.support.evidence_node import EvidenceNode, enroll_evidence_node, failed_event, put_evidence

__all__ = ["open_view", "record", "seeded", "sign_in"]


def seeded(context: ServerContext, url: str, tmp_path: Path) -> tuple[Plant, EvidenceNode]:
    """A node enrolled through ``context``'s services and two quality engineers."""
    plant = Plant(
        url=url, settings=context.settings, context=context, ca_file=ca_paths(context.settings.data_dir).cert
    )
    node = enroll_evidence_node(
        context,
        context.ca.get(),
        tmp_path / "node",
        node_id="edge-relay",
        site_id="plant-a",
        line_id="line-1",
        camera_ids=["cam-1"],
        server_url=url,
    )
    add_person(plant, "quinn.quality", (Role.QUALITY_ENGINEER,))
    add_person(plant, "rita.quality", (Role.QUALITY_ENGINEER,))
    return plant, node


def record(plant: Plant, node: EvidenceNode, image: np.ndarray | None = None) -> tuple[str, str]:
    """A failed part's event on the node, its evidence stored there; (event_id, evidence_ref)."""
    evidence_ref = new_id("evd")
    event = failed_event(node, evidence_ref=evidence_ref)
    send(plant, node.identity, [event], [])
    put_evidence(node, evidence_id=evidence_ref, event_id=event["event_id"], camera_id="cam-1", image=image)
    return str(event["event_id"]), evidence_ref


def sign_in(plant: Plant, url: str, username: str = "quinn.quality") -> tuple[httpx.Client, str]:
    """A browser session of ``username`` on ``url``, and its CSRF token."""
    person = plant.people[username]
    c = httpx.Client(base_url=url, verify=ssl.create_default_context(cafile=str(plant.ca_file)), timeout=30)
    body = c.post(
        "/api/v1/auth/login", json={"username": person.username, "password": person.password}
    ).json()
    if body.get("state") == "mfa_pending":
        body = c.post(
            "/api/v1/auth/login/mfa",
            json={"code": plant.code(username)},
            headers={"X-CSRF-Token": body["csrf_token"]},
        ).json()
    if body.get("state") != "active":
        msg = f"sign-in of {username} did not complete: {body}"
        raise AssertionError(msg)
    return c, str(body["csrf_token"])


def open_view(browser: httpx.Client, csrf: str, event_id: str) -> str:
    """Open a remote view of the event's evidence; the URL the browser fetches it from."""
    r = browser.post(
        f"/api/v1/dashboard/records/{event_id}/evidence",
        json={"purpose": "defect review"},
        headers={"X-CSRF-Token": csrf},
    )
    if r.status_code != 202:
        msg = f"opening the view answered {r.status_code}: {r.text[:300]}"
        raise AssertionError(msg)
    return str(r.json()["view_url"])
