"""``lineguard ca broker-cafile`` with a real Mosquitto through a CA rotation.

The broker takes node certificates of the plant CA beside its own OT CA (the CA of the
server's broker client certificate). After ``ca rotate`` a node on the new CA is refused
until the file is written again and the broker restarted (Mosquitto 2.0 reads ``cafile``
only at start, checked here too); after ``ca retire`` the old CA's node is refused.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr

from lineguard.cli.main import cli
from lineguard.edge.identity import IdentityStore
from lineguard.server.pki import PlantCa, ca_paths, retire_previous_ca, start_ca_rotation
from tests.support.mosquitto import MOSQUITTO, Mosquitto
from tests.support.test_pki import TestCa

PASSPHRASE = SecretStr("broker cafile test passphrase")

pytestmark = pytest.mark.skipif(not Path(MOSQUITTO).exists(), reason=f"no Mosquitto at {MOSQUITTO}")


def _node(ca: PlantCa, where: Path, node_id: str) -> tuple[Path, Path]:
    store = IdentityStore(where / node_id)
    key = store.generate_key()
    csr = x509.load_pem_x509_csr(store.csr_pem(key, node_id).encode())
    cert, key_file = where / f"{node_id}.crt", where / f"{node_id}.key"
    cert.write_text(ca.issue_node_certificate(csr, node_id=node_id, days=7).pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert, key_file


def _accepted(broker: Mosquitto, ot: TestCa, node: tuple[Path, Path]) -> bool:
    """An MQTT CONNECT over TLS with the node's certificate: a CONNACK with code 0, or refused."""
    ctx = ssl.create_default_context(cafile=str(ot.cert_path))
    ctx.check_hostname = False
    ctx.load_cert_chain(*node)
    try:
        with (
            socket.create_connection(("127.0.0.1", broker.port), timeout=5) as raw,
            ctx.wrap_socket(raw) as tls,
        ):
            tls.sendall(bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 60, 0, 0]))
            return tls.recv(4) == b"\x20\x02\x00\x00"
    except (OSError, ssl.SSLError):
        return False


def test_the_broker_cafile_follows_a_rotation_once_rewritten_and_the_broker_restarted(tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    config = tmp_path / "server.yaml"
    config.write_text(yaml.safe_dump({"kind": "server", "site_id": "plant-a", "data_dir": str(data_dir)}))
    old = PlantCa.create(data_dir, PASSPHRASE, site_id="plant-a")
    ot = TestCa(tmp_path / "ot-ca", "ot")
    broker = Mosquitto(tmp_path / "mosquitto", ot, client_cas=(ca_paths(data_dir).cert,))
    cafile = broker.config.parent / "client-cas.pem"  # what the broker's config names

    def write() -> str:
        answer = CliRunner().invoke(
            cli,
            [
                "ca",
                "broker-cafile",
                "--config",
                str(config),
                "--also",
                str(ot.cert_path),
                "--out",
                str(cafile),
            ],
        )
        assert answer.exit_code == 0, answer.output
        return answer.output

    assert "wrote 2 CA certificate(s)" in write()
    node_a = _node(old, tmp_path, "node-a")
    broker.start()
    try:
        assert _accepted(broker, ot, node_a)

        start_ca_rotation(data_dir, PASSPHRASE, site_id="plant-a")
        new = PlantCa.load(data_dir, PASSPHRASE)
        node_c = _node(new, tmp_path, "node-c")
        assert not _accepted(broker, ot, node_c)  # the broker still has the old file in memory
        assert "wrote 3 CA certificate(s)" in write()  # OT CA, new plant CA, previous plant CA
        assert not _accepted(broker, ot, node_c)  # rewritten, but not re-read without a restart
        broker.stop()
        broker.start()
        assert _accepted(broker, ot, node_c) and _accepted(broker, ot, node_a)  # the overlap

        retire_previous_ca(data_dir, PASSPHRASE, server_names=["127.0.0.1"])
        assert "wrote 2 CA certificate(s)" in write()
        broker.stop()
        broker.start()
        assert _accepted(broker, ot, node_c)
        assert not _accepted(broker, ot, node_a)  # the retired CA's node
    finally:
        broker.stop()
    assert oct(cafile.stat().st_mode & 0o777) == "0o644"


def test_a_file_that_is_not_a_ca_certificate_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    config = tmp_path / "server.yaml"
    config.write_text(yaml.safe_dump({"kind": "server", "site_id": "plant-a", "data_dir": str(data_dir)}))
    ca = PlantCa.create(data_dir, PASSPHRASE, site_id="plant-a")
    leaf, _ = _node(ca, tmp_path, "node-a")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    out = tmp_path / "out.pem"
    for also, says in (
        (leaf, "is not a CA certificate (expected basicConstraints CA:TRUE)"),
        (garbage, "holds no PEM certificate"),
        (tmp_path / "missing.pem", "cannot read"),
    ):
        answer = CliRunner().invoke(
            cli, ["ca", "broker-cafile", "--config", str(config), "--also", str(also), "--out", str(out)]
        )
        assert answer.exit_code != 0 and says in answer.output, answer.output
        assert "Traceback" not in answer.output
    assert not out.exists()


def test_a_missing_out_folder_is_refused_not_made_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    config = tmp_path / "server.yaml"
    config.write_text(yaml.safe_dump({"kind": "server", "site_id": "plant-a", "data_dir": str(data_dir)}))
    PlantCa.create(data_dir, PASSPHRASE, site_id="plant-a")
    out = tmp_path / "mosquitto" / "lineguard-clients.pem"
    answer = CliRunner().invoke(cli, ["ca", "broker-cafile", "--config", str(config), "--out", str(out)])
    # It used to be made 0700 (root's), which Mosquitto, reading as its own user, cannot enter.
    assert answer.exit_code == 2, answer.output
    assert f"the folder {out.parent} does not exist" in answer.output
    assert answer.exception is None or isinstance(answer.exception, SystemExit), answer.exception
    assert not out.parent.exists()
