"""The roll-up's audit checkpoint key on a PKCS#11 token (SoftHSM v2 as the HSM).

The same HSM signer as the plant's (``keyring.audit_key: pkcs11`` in enterprise.yaml),
with the roll-up's own key label; run in a fresh interpreter (:mod:`tests.support.softhsm`
says why), through the real CLI, with no keyring passphrase in the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.softhsm import SOFTHSM_LIB, in_fresh_process, softhsm_token

PIN = "864200"
TOKEN = "lg-rollup-audit"
PIN_ENV = "LG_TEST_ROLLUP_HSM_PIN"

_SCENARIO = """
from pathlib import Path
from click.testing import CliRunner
from lineguard.cli.main import cli
from lineguard.config import load_enterprise_config
from lineguard.contracts.audit import EnterpriseTokenRevoked
from lineguard.enterprise import open_enterprise_storage, record

config = load_enterprise_config(Path(CONFIG))
engine, sessions = open_enterprise_storage(config)
for i in range(3):
    with sessions.begin() as session:
        record(session, EnterpriseTokenRevoked(token_id=f"tok_{i}"), actor="cli:test")
engine.dispose()

def run(*args):
    result = CliRunner().invoke(cli, list(args))
    return [result.exit_code, result.output]

out = {
    "checkpoint": run("enterprise", "audit", "checkpoint", "--config", CONFIG),
    "verify": run("enterprise", "audit", "verify", "--config", CONFIG),
}
import pkcs11
from pkcs11 import Attribute, ObjectClass
token = pkcs11.lib(LIB).get_token(token_label=TOKEN)
with token.open() as s:
    keys = s.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: LABEL})
    out["extractable"] = [bool(k[Attribute.EXTRACTABLE]) for k in keys]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def hsm_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = softhsm_token(tmp_path_factory.mktemp("softhsm-rollup"), label=TOKEN, pin=PIN, so_pin="13579")
    env.pop("LINEGUARD_ENTERPRISE_KEYRING_PASSPHRASE", None)
    env.pop("LINEGUARD_KEYRING_PASSPHRASE", None)
    return {**env, PIN_ENV: PIN}


def test_the_rollups_checkpoints_are_signed_inside_the_hsm(hsm_env: dict[str, str], tmp_path: Path) -> None:
    pkcs11 = {"library": str(SOFTHSM_LIB), "token_label": TOKEN, "pin": {"env": PIN_ENV}}
    config = tmp_path / "enterprise.yaml"
    document = {
        "kind": "enterprise",
        "data_dir": str(tmp_path / "data"),
        "keyring": {"audit_key": "pkcs11", "audit_key_label": "lineguard-enterprise-audit", "pkcs11": pkcs11},
    }
    config.write_text(yaml.safe_dump(document), encoding="utf-8")
    out: dict[str, Any] = in_fresh_process(
        hsm_env, _SCENARIO, TOKEN=TOKEN, CONFIG=str(config), LABEL="lineguard-enterprise-audit"
    )
    assert out["checkpoint"] == [0, "signed checkpoint at seq 3\n"]
    assert out["verify"][0] == 0, out["verify"]
    assert "ok: 3 entries (seq 1-3), 1 signed checkpoints, last at seq 3" in out["verify"][1]
    assert out["extractable"] == [False]  # the key is on the token, and stays there
    assert (tmp_path / "data" / "audit" / "signing-key.pub.pem").exists()
    assert not (tmp_path / "data" / "audit" / "signing-key.sealed").exists()
