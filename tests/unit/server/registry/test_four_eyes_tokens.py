"""Finding 11 of the 2026-12 security review, the API side: an approval is the approver's
own act. Through the API it already was — approving needs a browser session of a role
that requires a second factor, and no API token may carry ``model_deployment.approve``
(a token is a credential anyone holding it can use). This pins both.
"""

from __future__ import annotations

from lineguard.server.auth import ROLES, Role
from lineguard.server.auth.dependencies import CSRF_HEADER
from tests.unit.server.registry.conftest import RegistryWorld


def test_no_api_token_can_approve(world: RegistryWorld) -> None:
    csrf = world.harness.sign_in(world.bob)
    minted = world.harness.client.post(
        "/api/v1/auth/tokens",
        json={"name": "approver-bot", "actions": ["model_deployment.approve"], "days": 1},
        headers={CSRF_HEADER: csrf},
    )
    assert minted.status_code == 403
    assert "model_deployment.approve: not permitted through a token" in minted.json()["details"][0]


def test_approving_roles_sign_in_with_a_second_factor() -> None:
    assert ROLES[Role.PRODUCTION_SUPERVISOR].mfa_required and ROLES[Role.QUALITY_ENGINEER].mfa_required
