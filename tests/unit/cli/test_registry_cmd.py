"""``lineguard registry``: the signed registry workflow from the server host, role by role."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pyotp
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from lineguard.cli.main import cli
from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.storage import create_engine_for, session_factory
from lineguard.vision.testing import build_tiny_package
from tests.support.people import first_sign_in
from tests.support.server_yaml import write_server_yaml

ENV = {
    "LINEGUARD_SIGNING_PASSPHRASE": "registry cli signing passphrase",
    "LINEGUARD_KEYRING_PASSPHRASE": "registry cli keyring passphrase",
}


#: username → (own password, authenticator secret), set as at first sign-in.
PEOPLE: dict[str, tuple[str, str]] = {}


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=ENV, input=stdin)
    # --json: stdout alone (the password and code prompts go to stderr)
    return result.exit_code, result.stdout if "--json" in args and result.exit_code == 0 else result.output


def creds(username: str, *, password: str | None = None) -> str:
    """What the person types: their password, then the authenticator's next code (one step
    ahead is within the allowed drift, and never a replay of the enrolment's step)."""
    own, secret = PEOPLE[username]
    return f"{password or own}\n{pyotp.TOTP(secret).at(time.time() + 30)}\n"


@pytest.fixture
def config(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = write_server_yaml(tmp_path, db_url)
    for name, value in ENV.items():  # the in-process first sign-in opens the keyring too
        monkeypatch.setenv(name, value)
    PEOPLE.clear()
    for username, role in (
        ("quinn", "quality_engineer"),
        ("sam", "production_supervisor"),
        ("max", "maintenance_technician"),
    ):
        code, out = run(
            "user", "add", username, "--name", username.title(), "--role", role, "--config", str(path)
        )
        assert code == 0, out
        one_time = re.search(r"one-time password for \S+: (\S+)", out)
        assert one_time is not None, out
        PEOPLE[username] = first_sign_in(path, username, one_time.group(1))
    code, out = run("keys", "signing", "create", "--config", str(path), "--label", "qa")
    assert code == 0, out
    return path


@pytest.fixture
def package(tmp_path: Path, config: Path) -> Path:
    path = build_tiny_package(tmp_path / "models" / "tile").path
    code, out = run("model", "sign", str(path), "--config", str(config))
    assert code == 0, out
    return path


def _audit_names(db_url: str) -> list[str]:
    engine = create_engine_for(db_url)
    try:
        with session_factory(engine)() as session:
            return list(session.scalars(select(AuditEntryRow.name).order_by(AuditEntryRow.seq)).all())
    finally:
        engine.dispose()


def test_register_approve_deploy_by_two_people(config: Path, package: Path, db_url: str) -> None:
    cfg = str(config)
    code, out = run(
        "registry", "register", str(package), "--as", "quinn", "--config", cfg, "--json", stdin=creds("quinn")
    )
    assert code == 0, out
    version = json.loads(out)
    assert version["model_id"] == "tiny-test-model" and version["state"] == "registered"
    assert version["registered_by"].endswith(":quinn")
    vid = version["id"]

    # Four eyes: the registrar cannot approve; a supervisor can.
    code, out = run("registry", "approve", vid, "--as", "quinn", "--config", cfg)
    assert code == 2 and "permission denied" in out and "Traceback" not in out
    code, out = run("registry", "approve", vid, "--as", "sam", "--config", cfg, stdin=creds("sam"))
    assert code == 0, out
    assert re.search(r"approved tiny-test-model v1 .*approved", out)

    # A supervisor approves but does not deploy; the quality engineer does.
    code, out = run("registry", "deploy", vid, "--line", "line-1", "--as", "sam", "--config", cfg)
    assert code == 2 and "model_deployment.request" in out
    code, out = run("registry", "deploy", vid, "--line", "line-1", "--as", "quinn", "--config", cfg)
    assert code == 0, out
    assert "release 1 (deploy)" in out

    code, out = run("registry", "list", "--config", cfg, "--json")
    assert code == 0, out
    listed = json.loads(out)
    assert [(v["id"], v["state"]) for v in listed["versions"]] == [(vid, "approved")]
    assert [(r["release"], r["lines"]) for r in listed["releases"]] == [(1, ["line-1"])]

    names = _audit_names(db_url)
    for name in ("model.registered", "model.approved", "model.deployed"):
        assert name in names
    assert names.count("access.denied") == 2


def test_a_role_without_model_configuration_write_cannot_register(config: Path, package: Path) -> None:
    code, out = run("registry", "register", str(package), "--as", "max", "--config", str(config))
    assert code == 2
    assert "permission denied: model_configuration.write for max" in out
    code, out = run("registry", "register", str(package), "--as", "nobody", "--config", str(config))
    assert code == 2 and "no user named 'nobody'" in out


def test_unknown_package_path_is_a_clear_error(config: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-package"
    code, out = run("registry", "register", str(missing), "--as", "quinn", "--config", str(config))
    assert code == 2
    assert f"error: {missing} is not a model package folder" in out
    assert "Traceback" not in out


def test_an_unsigned_package_is_refused(config: Path, package: Path) -> None:
    package.with_name("tile.sig").unlink()
    code, out = run(
        "registry", "register", str(package), "--as", "quinn", "--config", str(config), stdin=creds("quinn")
    )
    assert code == 2
    assert "error: check 'unsigned' failed" in out and "Traceback" not in out


def test_a_tampered_package_is_refused_and_nothing_is_stored(config: Path, package: Path) -> None:
    metadata = package / "metadata.json"
    doc = json.loads(metadata.read_text(encoding="utf-8"))
    doc["threshold"]["value"] = 0.99
    metadata.write_text(json.dumps(doc), encoding="utf-8")
    code, out = run(
        "registry", "register", str(package), "--as", "quinn", "--config", str(config), stdin=creds("quinn")
    )
    assert code == 2
    assert "error: check 'tampered' failed" in out and "metadata.json" in out
    code, out = run("registry", "list", "--config", str(config), "--json")
    assert json.loads(out)["versions"] == []


def test_a_rejection_needs_a_reason_and_four_eyes(config: Path, package: Path) -> None:
    cfg = str(config)
    code, out = run(
        "registry", "register", str(package), "--as", "quinn", "--config", cfg, "--json", stdin=creds("quinn")
    )
    vid = json.loads(out)["id"]
    code, out = run("registry", "reject", vid, "--reason", " ", "--as", "sam", "--config", cfg)
    assert code == 2 and "say why" in out
    code, out = run(
        "registry",
        "reject",
        vid,
        "--reason",
        "blurry training set",
        "--as",
        "sam",
        "--config",
        cfg,
        stdin=creds("sam"),
    )
    assert code == 0, out
    assert "rejected" in out
    code, out = run("registry", "deploy", vid, "--line", "line-1", "--as", "quinn", "--config", cfg)
    assert code == 2 and "only approved versions deploy" in out


# Finding 11 of the 2026-12 security review: ``--as USER`` on the server host stood in for
# each person, so one operator could register and approve the same release as two
# people. Now both four-eyes steps authenticate the person: password and a fresh code.


def test_the_host_operator_cannot_approve_as_someone_else(config: Path, package: Path, db_url: str) -> None:
    cfg = str(config)
    code, out = run(
        "registry", "register", str(package), "--as", "quinn", "--config", cfg, "--json", stdin=creds("quinn")
    )
    vid = json.loads(out)["id"]
    # Knows neither sam's password nor his authenticator: refused, nothing approved.
    code, out = run(
        "registry", "approve", vid, "--as", "sam", "--config", cfg, stdin="guessed password\n123456\n"
    )
    assert code == 2 and "wrong user name or password" in out and "Traceback" not in out
    # Knows the password (shoulder-surfed) but not the code: refused too.
    code, out = run(
        "registry", "approve", vid, "--as", "sam", "--config", cfg, stdin=f"{PEOPLE['sam'][0]}\n000000\n"
    )
    assert code == 2
    code, out = run("registry", "list", "--config", cfg, "--json")
    assert [v["state"] for v in json.loads(out)["versions"]] == ["registered"]
    names = _audit_names(db_url)
    assert "model.approved" not in names
    assert "auth.login_failed" in names and "auth.mfa_failed" in names


def test_the_host_operator_cannot_register_as_someone_else(config: Path, package: Path) -> None:
    code, out = run(
        "registry",
        "register",
        str(package),
        "--as",
        "quinn",
        "--config",
        str(config),
        stdin="nope nope nope\n123456\n",
    )
    assert code == 2 and "wrong user name or password" in out
    code, out = run("registry", "list", "--config", str(config), "--json")
    assert json.loads(out)["versions"] == []


def test_a_code_is_good_for_one_step_only(config: Path, package: Path) -> None:
    cfg = str(config)
    typed = creds("quinn")
    code, out = run(
        "registry", "register", str(package), "--as", "quinn", "--config", cfg, "--json", stdin=typed
    )
    assert code == 0, out
    code, out = run("registry", "register", str(package), "--as", "quinn", "--config", cfg, stdin=typed)
    assert code == 2 and "Traceback" not in out  # the same code again is a replay


def test_a_person_without_own_password_and_authenticator_cannot_take_a_step(
    config: Path, package: Path, db_url: str
) -> None:
    cfg = str(config)
    code, out = run("user", "add", "sue", "--name", "Sue", "--role", "production_supervisor", "--config", cfg)
    one_time = re.search(r"one-time password for \S+: (\S+)", out)
    assert code == 0 and one_time is not None
    code, out = run(
        "registry", "register", str(package), "--as", "quinn", "--config", cfg, "--json", stdin=creds("quinn")
    )
    vid = json.loads(out)["id"]
    code, out = run(
        "registry", "approve", vid, "--as", "sue", "--config", cfg, stdin=f"{one_time.group(1)}\n123456\n"
    )
    assert code == 2 and "one-time password not yet changed" in out
    assert "auth.person_confirmed" in _audit_names(db_url)  # quinn's, not sue's


def test_node_software_is_bundled_and_published_by_an_authenticated_node_manager(
    config: Path, tmp_path: Path, db_url: str
) -> None:
    cfg = str(config)
    code, out = run("user", "add", "ivan", "--name", "Ivan", "--role", "it_administrator", "--config", cfg)
    assert code == 0, out
    one_time = re.search(r"one-time password for \S+: (\S+)", out)
    assert one_time is not None, out
    PEOPLE["ivan"] = first_sign_in(config, "ivan", one_time.group(1))
    wheels = tmp_path / "dist"
    wheels.mkdir()
    (wheels / "numpy-2.3.0-cp311-none-any.whl").write_bytes(b"numpy")
    requirements = tmp_path / "constraints.txt"
    requirements.write_text("lineguard==0.3.0\nnumpy==2.3.0\n")
    bundle = tmp_path / "lineguard-0.3.0.tar.gz"
    args = ["registry", "software-bundle", "--wheels", str(wheels), "--requirements", str(requirements)]
    code, out = run(*args, "--version", "0.3.0", "--out", str(bundle))
    assert code == 2 and "holds no lineguard-*.whl" in out and not bundle.exists()
    (wheels / "lineguard-0.3.0-py3-none-any.whl").write_bytes(b"lineguard")
    code, out = run(*args, "--version", "0.3.0", "--out", str(bundle))
    assert code == 0 and "2 wheels" in out, out

    publish = ["registry", "publish-software", str(bundle), "--version", "0.3.0", "--config", cfg]
    code, out = run(*publish, "--as", "quinn", stdin=creds("quinn"))  # a quality engineer manages no nodes
    assert code == 2 and "permission denied: node_management.write for quinn" in out
    code, out = run(*publish, "--as", "ivan", stdin=creds("ivan", password="not ivans password"))
    assert code != 0 and "wrong user name or password" in out and "Traceback" not in out
    assert "node_software.published" not in _audit_names(db_url)
    code, out = run(*publish, "--as", "ivan", "--json", stdin=creds("ivan"))
    assert code == 0, out
    release = json.loads(out)
    assert (release["site_id"], release["release"], release["version"]) == ("plant", 1, "0.3.0")
    names = _audit_names(db_url)
    assert names.count("node_software.published") == 1 and "auth.person_confirmed" in names
