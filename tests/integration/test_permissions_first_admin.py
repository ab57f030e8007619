"""The first administrator's journey: created by the CLI with a one-time password, then
in the browser API: change it, enroll TOTP, and only then administer — but never grant
themselves a role, and never see evidence."""

from __future__ import annotations

import re
from pathlib import Path

import pyotp
import yaml
from click.testing import CliRunner
from tests.unit.server.auth.harness import running_harness

from lineguard.cli.main import cli
from lineguard.server.auth.dependencies import CSRF_HEADER
from lineguard.server.auth.matrix import MATRIX_SITE


def test_first_admin_from_cli_to_working_session(db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "server.yaml"
    auth = {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1}
    config.write_text(
        yaml.safe_dump(
            {
                "kind": "server",
                "site_id": MATRIX_SITE,
                "data_dir": str(tmp_path / "d"),
                "database": {"url": db_url},
                "auth": auth,
            }
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["user", "create-admin", "a.admin", "--name", "Alex Admin", "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    match = re.search(r"one-time password for a\.admin: (\S+)", result.output)
    assert match
    one_time = match.group(1)

    with running_harness(db_url, tmp_path / "server") as h:
        client = h.client
        step = client.post("/api/v1/auth/login", json={"username": "a.admin", "password": one_time}).json()
        assert step["state"] == "password_change"
        csrf = {CSRF_HEADER: step["csrf_token"]}
        assert client.get("/api/v1/auth/users").status_code == 403
        new_password = "admin's own long passphrase"
        step = client.post(
            "/api/v1/auth/password",
            json={"current_password": one_time, "new_password": new_password},
            headers=csrf,
        ).json()
        assert step["state"] == "mfa_enroll"  # IT administrators must use MFA
        csrf = {CSRF_HEADER: step["csrf_token"]}
        assert client.get("/api/v1/auth/users").status_code == 403
        secret = client.post("/api/v1/auth/mfa/enroll", headers=csrf).json()["secret"]
        step = client.post(
            "/api/v1/auth/mfa/confirm", json={"code": pyotp.TOTP(secret).at(h.clock.now)}, headers=csrf
        ).json()
        assert step["state"] == "active" and step["mfa"] is True
        csrf = {CSRF_HEADER: step["csrf_token"]}
        users = client.get("/api/v1/auth/users")
        assert users.status_code == 200
        admin_id = users.json()[0]["id"]
        # The one-time password is dead; the new one works (with a code).
        client.cookies.clear()
        assert (
            client.post("/api/v1/auth/login", json={"username": "a.admin", "password": one_time}).status_code
            == 401
        )
        h.clock.advance(seconds=31)
        step = client.post(
            "/api/v1/auth/login", json={"username": "a.admin", "password": new_password}
        ).json()
        step = client.post(
            "/api/v1/auth/login/mfa",
            json={"code": pyotp.TOTP(secret).at(h.clock.now)},
            headers={CSRF_HEADER: step["csrf_token"]},
        ).json()
        csrf = {CSRF_HEADER: step["csrf_token"]}
        grant_self = client.post(
            f"/api/v1/auth/users/{admin_id}/grants", json={"role": "auditor"}, headers=csrf
        )
        assert grant_self.status_code == 403
        me = client.get("/api/v1/auth/me").json()
        assert "evidence_images.read" not in {p["action"] for p in me["permissions"]}
        assert "users_and_roles.grant" in {p["action"] for p in me["permissions"]}
