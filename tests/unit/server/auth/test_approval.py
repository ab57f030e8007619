"""Four eyes on deployments, through the helper the model registry uses."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import APIRouter, Depends

from lineguard.contracts.errors import ConflictError, PermissionDeniedError
from lineguard.server.auth.approval import check_approval, ensure_four_eyes
from lineguard.server.auth.catalog import Action, Role
from lineguard.server.auth.dependencies import CSRF_HEADER, Access, require
from tests.unit.server.auth.harness import AuthHarness


def test_ensure_four_eyes() -> None:
    ensure_four_eyes(requested_by="u1", approvers=["u2"])
    with pytest.raises(PermissionDeniedError, match="someone else"):
        ensure_four_eyes(requested_by="u1", approvers=["u1", "u2"])
    with pytest.raises(ConflictError, match="has 0"):
        ensure_four_eyes(requested_by="u1", approvers=[])
    with pytest.raises(ConflictError, match="needs 2"):
        ensure_four_eyes(requested_by="u1", approvers=["u2", "u2"], required=2)


def test_requester_cannot_approve_their_own_deployment_over_http(harness: AuthHarness) -> None:
    """A probe route built exactly as the registry will build it."""
    probe = APIRouter()

    @probe.post("/probe/deployments/{requested_by}/approve")
    def approve(
        requested_by: str, access: Annotated[Access, Depends(require(Action.MODEL_DEPLOYMENT_APPROVE))]
    ) -> dict[str, str]:
        check_approval(access, deployment_id="dep-1", line="line-1", requested_by=requested_by)
        return {"approved_by": access.principal.user_id}

    harness.app.include_router(probe, prefix="/api/v1")
    alice = harness.add_person("alice.q", [Role.QUALITY_ENGINEER])
    bob = harness.add_person("bob.s", [Role.PRODUCTION_SUPERVISOR])
    csrf = harness.sign_in(alice)
    own = harness.client.post(f"/api/v1/probe/deployments/{alice.id}/approve", headers={CSRF_HEADER: csrf})
    assert own.status_code == 403
    assert "other than its requester" in own.json()["message"]
    assert harness.trail.of("access.denied")[-1]["resource"] == "plant/line-1:dep-1"
    csrf = harness.sign_in(bob)
    other = harness.client.post(f"/api/v1/probe/deployments/{alice.id}/approve", headers={CSRF_HEADER: csrf})
    assert other.status_code == 200
    assert other.json() == {"approved_by": bob.id}
