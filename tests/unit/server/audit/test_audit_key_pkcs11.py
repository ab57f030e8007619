"""The audit checkpoint key on a PKCS#11 token (SoftHSM v2 as the HSM): ``keyring.audit_key: pkcs11``.

Each scenario runs in a fresh interpreter (:mod:`tests.support.softhsm` says why) against
this module's token, through the real CLI and the real server lifespan, with no keyring
passphrase in the environment: the HSM-held key needs none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.softhsm import SOFTHSM_LIB, in_fresh_process, softhsm_token

PIN = "975310"
TOKEN = "lg-audit"
PIN_ENV = "LG_TEST_AUDIT_HSM_PIN"


@pytest.fixture(scope="module")
def hsm_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = softhsm_token(tmp_path_factory.mktemp("softhsm-audit"), label=TOKEN, pin=PIN, so_pin="24680")
    env.pop("LINEGUARD_KEYRING_PASSPHRASE", None)
    return {**env, PIN_ENV: PIN}


def _server_yaml(tmp_path: Path, *, pin_env: str = PIN_ENV, label: str = "lineguard-audit") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "server.yaml"
    pkcs11 = {"library": str(SOFTHSM_LIB), "token_label": TOKEN, "pin": {"env": pin_env}}
    keyring = {"audit_key": "pkcs11", "audit_key_label": label, "pkcs11": pkcs11}
    config = {"kind": "server", "site_id": "plant-a", "data_dir": str(tmp_path / "data"), "keyring": keyring}
    path.write_text(yaml.safe_dump(config))
    return path


_CLI_SCENARIO = """
from click.testing import CliRunner
from lineguard.cli.main import cli
from lineguard.config import load_server_config
from lineguard.contracts.audit import EvidenceAccessed
from lineguard.server.audit import record
from lineguard.server.storage import open_storage

from pathlib import Path
settings = load_server_config(Path(CONFIG))
engine, sessions = open_storage(settings)
for i in range(5):
    with sessions.begin() as session:
        record(session, EvidenceAccessed(evidence_ref=f"evd_{i}", purpose="rework"), actor="user:qe1")
engine.dispose()

def run(*args):
    result = CliRunner().invoke(cli, list(args))
    return [result.exit_code, result.output]

out = {
    "checkpoint": run("audit", "checkpoint", "--config", CONFIG),
    "verify": run("audit", "verify", "--config", CONFIG),
    "public_key": run("audit", "public-key", "--config", CONFIG),
    "export": run("audit", "export", "--config", CONFIG, "--out", EXPORT),
}
out["verify_export"] = run("audit", "verify", EXPORT, "--public-key", PUB)

import pkcs11
from pkcs11 import Attribute, ObjectClass
token = pkcs11.lib(LIB).get_token(token_label=TOKEN)
with token.open() as s:  # this process is logged in already (the CLI opened the key)
    (private,) = s.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: "lineguard-audit"})
    out["sensitive"] = bool(private[Attribute.SENSITIVE])
    out["extractable"] = bool(private[Attribute.EXTRACTABLE])
    try:
        private[Attribute.VALUE]
        out["value_read"] = True
    except pkcs11.PKCS11Error as exc:
        out["value_read"] = type(exc).__name__
print(json.dumps(out))
"""


def test_checkpoints_are_signed_inside_the_hsm_and_verify_with_the_published_key(
    hsm_env: dict[str, str], tmp_path: Path
) -> None:
    config = _server_yaml(tmp_path)
    out: dict[str, Any] = in_fresh_process(
        hsm_env,
        _CLI_SCENARIO,
        TOKEN=TOKEN,
        PIN=PIN,
        CONFIG=str(config),
        EXPORT=str(tmp_path / "audit.jsonl"),
        PUB=str(tmp_path / "data" / "audit" / "signing-key.pub.pem"),
    )
    assert out["checkpoint"] == [0, "signed checkpoint at seq 5\n"]
    assert out["verify"][0] == 0 and "ok: 5 entries (seq 1-5), 1 signed checkpoints" in out["verify"][1]
    assert out["public_key"][1] == (tmp_path / "data" / "audit" / "signing-key.pub.pem").read_text()
    assert out["export"][0] == 0, out["export"]
    assert out["verify_export"][0] == 0 and "signed checkpoints" in out["verify_export"][1]
    # The private key is on the token only: nothing sealed on disk, and the token will not hand it out.
    assert not (tmp_path / "data" / "audit" / "signing-key.sealed").exists()
    assert (out["sensitive"], out["extractable"]) == (True, False)
    assert out["value_read"] == "AttributeSensitive"


_SERVER_SCENARIO = """
import asyncio
from lineguard.config import load_server_config
from lineguard.contracts.audit import EvidenceAccessed
from lineguard.contracts.errors import LineGuardError
from lineguard.server.app import create_app
from lineguard.server.audit import record
from lineguard.server.audit.scheduled import checkpoint_now
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for
from tests.unit.server.conftest import AuditTrail
from fastapi.testclient import TestClient

from pathlib import Path
settings = load_server_config(Path(CONFIG))
settings.data_dir.mkdir(mode=0o700, parents=True)
engine = create_engine_for(f"sqlite:///{settings.data_dir}/db.sqlite")
app = create_app(settings, engine=engine, sealer=NoEncryption(), audit=AuditTrail())
out = {}
try:
    with TestClient(app):
        context = app.state.lineguard
        signer = context.checkpoints.signer
        with context.sessions.begin() as session:
            record(session, EvidenceAccessed(evidence_ref="evd_1", purpose="rework"), actor="user:qe1")
        out["signer"] = type(signer).__name__
        out["key_id"] = signer.key_id
        out["seq"] = checkpoint_now(context, signer)
except LineGuardError as exc:
    out["refused"] = [exc.code, exc.message]
print(json.dumps(out))
"""


def test_the_server_signs_with_the_hsm_key_and_refuses_to_start_without_it(
    hsm_env: dict[str, str], tmp_path: Path
) -> None:
    started = in_fresh_process(hsm_env, _SERVER_SCENARIO, CONFIG=str(_server_yaml(tmp_path / "a")))
    assert started["signer"] == "Pkcs11AuditSigner" and started["seq"] == 1
    again = in_fresh_process(hsm_env, _SERVER_SCENARIO, CONFIG=str(_server_yaml(tmp_path / "b")))
    assert again["key_id"] == started["key_id"]  # the same key on the token, not a new one per start
    wrong = {**hsm_env, PIN_ENV: "000000"}
    refused = in_fresh_process(wrong, _SERVER_SCENARIO, CONFIG=str(_server_yaml(tmp_path / "c")))
    assert refused["refused"][0] == "crypto_failed"
    assert f"cannot open PKCS#11 token {TOKEN!r}" in refused["refused"][1]


def test_a_wrong_pin_is_a_clear_cli_error(hsm_env: dict[str, str], tmp_path: Path) -> None:
    out = in_fresh_process(
        {**hsm_env, PIN_ENV: "000000"},
        """
        from click.testing import CliRunner
        from lineguard.cli.main import cli
        result = CliRunner().invoke(cli, ["audit", "checkpoint", "--config", CONFIG])
        print(json.dumps([result.exit_code, result.output]))
        """,
        CONFIG=str(_server_yaml(tmp_path)),
    )
    assert out[0] != 0 and "cannot open PKCS#11 token" in out[1] and "Traceback" not in out[1]


def test_the_config_needs_a_token_for_an_hsm_audit_key(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from lineguard.config.server import KeyringConfig

    with pytest.raises(ValidationError, match="audit_key 'pkcs11' needs a 'pkcs11' section"):
        KeyringConfig(audit_key="pkcs11")
