"""``lineguard enterprise`` end to end: init, a plant's request, enrolment, tokens, a real
``enterprise serve`` process over TLS, a plant's sender reporting to it, a token revoked,
and the audit chain verified from the command line."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner

from lineguard.cli.main import cli
from lineguard.server.storage import create_engine_for, utcnow
from tests.support.enterprise import PlantCredentials, free_port, make_plant, plant_settings

pytestmark = pytest.mark.timeout(300)

PASS_ENV = "LINEGUARD_ENTERPRISE_CA_PASSPHRASE"
KEYRING_ENV = "LINEGUARD_ENTERPRISE_KEYRING_PASSPHRASE"


def _wait_until_serving(url: str, ca_file: Path, token: str, process: subprocess.Popen[bytes]) -> None:
    context = ssl.create_default_context(cafile=str(ca_file))
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else "exited"
        try:
            r = httpx.get(
                f"{url}/api/v1/plants", verify=context, headers={"Authorization": f"Bearer {token}"}
            )
            if r.status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the roll-up did not start"
        time.sleep(0.2)


def test_the_enterprise_commands_run_a_rollup_a_plant_reports_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASS_ENV, "enterprise roll-up passphrase")
    monkeypatch.setenv(KEYRING_ENV, "enterprise keyring passphrase")
    port = free_port()
    config = tmp_path / "enterprise.yaml"
    config.write_text(
        yaml.safe_dump({"kind": "enterprise", "data_dir": str(tmp_path / "rollup"), "http": {"port": port}}),
        encoding="utf-8",
    )
    run = CliRunner().invoke
    c = ["--config", str(config)]
    initialised = run(cli, ["enterprise", "init", *c])
    assert initialised.exit_code == 0, initialised.output
    assert (tmp_path / "rollup" / "audit" / "signing-key.pub.pem").exists()
    assert "audit checkpoint key" in initialised.stdout
    plant_dir = tmp_path / "plant-a"
    made = run(cli, ["enterprise", "plant-request", "--plant-id", "plant-a", "--out", str(plant_dir)])
    assert made.exit_code == 0, made.output
    assert oct((plant_dir / "enterprise.key.pem").stat().st_mode & 0o777) == "0o600"
    cert = plant_dir / "enterprise.crt.pem"
    enrol = [
        "enterprise",
        "plant",
        "enrol",
        *c,
        "--plant-id",
        "plant-a",
        "--csr",
        str(plant_dir / "enterprise.csr.pem"),
        "--out",
        str(cert),
    ]
    assert run(cli, enrol).exit_code == 0
    created = run(
        cli, ["enterprise", "token", "create", *c, "--role", "quality_viewer", "--holder", "Group QA"]
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    token_id = created.stderr.split()[1]

    ca_file = tmp_path / "rollup" / "ca" / "ca.crt.pem"
    env = {
        **os.environ,
        PASS_ENV: "enterprise roll-up passphrase",
        KEYRING_ENV: "enterprise keyring passphrase",
    }
    serve = subprocess.Popen(
        [sys.executable, "-m", "lineguard.cli", "enterprise", "serve", *c],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_until_serving(f"https://127.0.0.1:{port}", ca_file, token, serve)
        creds = PlantCredentials("plant-a", cert, plant_dir / "enterprise.key.pem")
        settings = plant_settings(tmp_path, "plant-a", (port, ca_file), creds)
        engine = create_engine_for(f"sqlite:///{tmp_path / 'plant.db'}")
        plant = make_plant(settings, engine)
        plant.add_parts("line-1", passed=9, failed=1)
        assert plant.sender.run_once().sent == 1
        context = ssl.create_default_context(cafile=str(ca_file))
        with httpx.Client(verify=context, headers={"Authorization": f"Bearer {token}"}) as viewer:
            r = viewer.get(
                f"https://127.0.0.1:{port}/api/v1/aggregates",
                params={"since": "2026-12-01", "until": "2026-12-01"},
            )
            assert r.status_code == 200, r.text
            assert [(d["plant_id"], d["line_id"], d["parts_inspected"]) for d in r.json()] == [
                ("plant-a", "line-1", 10)
            ]
            assert run(cli, ["enterprise", "token", "revoke", *c, "--token-id", token_id]).exit_code == 0
            assert viewer.get(f"https://127.0.0.1:{port}/api/v1/plants").status_code == 401
        engine.dispose()
    finally:
        serve.terminate()
        serve.wait(timeout=30)
    # enrolled, token created, aggregates received, token revoked: all signed by the
    # checkpoint `serve` made as it shut down on SIGTERM (the revocation, written by the CLI, too).
    verified = run(cli, ["enterprise", "audit", "verify", *c])
    assert verified.exit_code == 0, verified.output
    assert "ok: 4 entries (seq 1-4), 1 signed checkpoints, last at seq 4" in verified.stdout
    assert run(cli, ["enterprise", "audit", "checkpoint", *c]).stdout.strip() == (
        "nothing new since the last checkpoint"
    )


def test_config_check_knows_an_enterprise_config_and_names_a_wrong_key(tmp_path: Path) -> None:
    good = tmp_path / "enterprise.yaml"
    good.write_text(yaml.safe_dump({"kind": "enterprise", "data_dir": str(tmp_path)}), encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check", str(good)])
    assert result.exit_code == 0, result.output
    assert "enterprise roll-up config, listening on 127.0.0.1:9443" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {"kind": "enterprise", "data_dir": str(tmp_path), "http": {"port": 9443, "tls": "off"}}
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["config", "check", str(bad)])
    assert result.exit_code == 2
    assert "http.tls" in result.output


def test_token_create_prints_the_expiry_refuses_over_the_maximum_and_token_list_shows_states(
    tmp_path: Path,
) -> None:
    config = tmp_path / "enterprise.yaml"
    config.write_text(
        yaml.safe_dump({"kind": "enterprise", "data_dir": str(tmp_path / "r")}), encoding="utf-8"
    )
    run = CliRunner().invoke
    c = ["--config", str(config)]
    week = run(
        cli, ["enterprise", "token", "create", *c, "--role", "auditor", "--holder", "Audit", "--days", "7"]
    )
    assert week.exit_code == 0, week.output
    expected_day = (utcnow() + timedelta(days=7)).date().isoformat()
    assert f"expires {expected_day}" in week.stderr
    week_id = week.stderr.split()[1]
    default = run(cli, ["enterprise", "token", "create", *c, "--role", "quality_viewer", "--holder", "QA"])
    assert f"expires {(utcnow() + timedelta(days=30)).date().isoformat()}" in default.stderr
    too_long = run(
        cli, ["enterprise", "token", "create", *c, "--role", "auditor", "--holder", "X", "--days", "91"]
    )
    assert too_long.exit_code != 0
    assert "1 to 90 days" in too_long.output
    assert run(cli, ["enterprise", "token", "revoke", *c, "--token-id", week_id]).exit_code == 0
    listed = run(cli, ["enterprise", "token", "list", *c])
    assert listed.exit_code == 0, listed.output
    rows = {line.split("\t")[1]: line.split("\t") for line in listed.stdout.strip().splitlines()[1:]}
    assert set(rows) == {"Audit", "QA"}  # the refused one was never created
    assert rows["Audit"][2:] == ["auditor", rows["Audit"][3], "revoked"]
    assert rows["Audit"][3].startswith(expected_day)
    assert rows["QA"][4] == "active"
    assert "lge_" not in listed.stdout
