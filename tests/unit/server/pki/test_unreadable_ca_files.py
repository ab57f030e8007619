"""CA files that cannot be read: a clean error naming the file, or a fallback that heals.

Every certificate of ``data_dir/ca/`` is read through ``files.read_certificate``: a corrupt
``ca.crt.pem``, ``previous.crt.pem`` or ``retired/*.crt.pem`` is a ``CryptoError`` naming
the file (the CLI prints ``error: …`` and exits 2, no traceback). An unreadable
``server.crt.pem`` is not fatal: it is re-issued, by the previous CA while a rotation
overlaps, so ``lineguard server`` starts (``run_server`` loads the CA, then
``ensure_server_certificate``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from lineguard.cli.main import cli
from lineguard.contracts.errors import CryptoError
from lineguard.server.admin import ensure_server_certificate, load_ca
from lineguard.server.pki import (
    PlantCa,
    ca_paths,
    read_certificate,
    retire_previous_ca,
    start_ca_rotation,
)
from lineguard.server.pki.files import write_replacing
from tests.support.server_yaml import PLANT_SERVER_NAMES, plant_server_config
from tests.unit.server.conftest import CA_PASSPHRASE, plant_with_ca

GARBAGE = b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"


def test_an_unreadable_server_certificate_during_an_overlap_is_reissued_by_the_previous_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = plant_with_ca(tmp_path, monkeypatch)
    old = PlantCa.load(tmp_path, CA_PASSPHRASE)
    start_ca_rotation(tmp_path, CA_PASSPHRASE, site_id="plant-a")
    paths = ca_paths(tmp_path)
    paths.server_cert.write_bytes(GARBAGE)

    ca = load_ca(settings)  # what `lineguard server` does first: a ValueError traceback before
    assert ca.serving_fingerprint == old.fingerprint_sha256  # the CA that re-issues it, below
    _, event = ensure_server_certificate(settings, ca)
    assert event is not None
    assert event.reason == "unreadable"
    assert event.previous_fingerprint_sha256 is None  # nothing readable was there
    assert event.issuer_fingerprint_sha256 == old.fingerprint_sha256  # every node still trusts it
    assert read_certificate(paths.server_cert, "server").issuer == old.certificate.subject
    assert PlantCa.load(tmp_path, CA_PASSPHRASE).serving_fingerprint == old.fingerprint_sha256


def _corrupt_ca(tmp_path: Path) -> None:
    PlantCa.create(tmp_path, CA_PASSPHRASE, site_id="plant-a")
    ca_paths(tmp_path).cert.write_bytes(GARBAGE)


def _corrupt_previous(tmp_path: Path) -> None:
    PlantCa.create(tmp_path, CA_PASSPHRASE, site_id="plant-a")
    start_ca_rotation(tmp_path, CA_PASSPHRASE, site_id="plant-a")
    ca_paths(tmp_path).previous_cert.write_bytes(b"")  # truncated by a full disk


def _corrupt_retired(tmp_path: Path) -> None:
    PlantCa.create(tmp_path, CA_PASSPHRASE, site_id="plant-a").issue_server_certificate(
        tmp_path, names=list(PLANT_SERVER_NAMES)
    )
    done = start_ca_rotation(tmp_path, CA_PASSPHRASE, site_id="plant-a")
    retire_previous_ca(tmp_path, CA_PASSPHRASE, server_names=list(PLANT_SERVER_NAMES))
    (ca_paths(tmp_path).retired / f"{done.previous_fingerprint}.crt.pem").write_bytes(GARBAGE)


@pytest.mark.parametrize(
    ("corrupt", "file_name", "command"),
    [
        (_corrupt_ca, "ca.crt.pem", "show"),
        (_corrupt_ca, "ca.crt.pem", "rotate"),
        (_corrupt_previous, "previous.crt.pem", "show"),
        (_corrupt_previous, "previous.crt.pem", "retire"),
        (_corrupt_retired, ".crt.pem", "rotate"),
    ],
)
def test_a_corrupt_ca_certificate_is_an_error_naming_the_file_not_a_traceback(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    corrupt: Callable[[Path], None],
    file_name: str,
    command: str,
) -> None:
    corrupt(tmp_path / "data")
    config = tmp_path / "server.yaml"
    config.write_text(yaml.safe_dump(plant_server_config(tmp_path / "data")), encoding="utf-8")
    monkeypatch.setenv("LINEGUARD_CA_PASSPHRASE", CA_PASSPHRASE.get_secret_value())
    result = CliRunner().invoke(cli, ["ca", command, "--config", str(config)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2, result.output
    error = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(error) == 1, result.output
    assert str(ca_paths(tmp_path / "data").directory) in error[0] and file_name in error[0]
    assert "certificate" in error[0]


def test_reading_a_certificate_names_the_file_for_each_way_it_fails(tmp_path: Path) -> None:
    missing = tmp_path / "gone.crt.pem"
    with pytest.raises(CryptoError, match=r"cannot read the CA certificate .*gone\.crt\.pem"):
        read_certificate(missing, "CA")
    (tmp_path / "folder.crt.pem").mkdir()  # a read that fails with an OSError other than "missing"
    with pytest.raises(CryptoError, match=r"folder\.crt\.pem"):
        read_certificate(tmp_path / "folder.crt.pem", "server")
    broken = tmp_path / "broken.crt.pem"
    broken.write_bytes(GARBAGE)
    with pytest.raises(CryptoError, match=r"previous CA certificate .*broken\.crt\.pem is not"):
        read_certificate(broken, "previous CA")


def test_a_write_that_fails_leaves_the_file_as_it_was_and_nothing_beside_it(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    target = ca_dir / "server.crt.pem"
    (target / "held").mkdir(parents=True)  # the rename over it is refused (a folder, not empty)
    with pytest.raises(OSError, match=r"server\.crt\.pem"):
        write_replacing(target, b"new certificate")
    assert sorted(p.name for p in ca_dir.iterdir()) == ["server.crt.pem"]  # no .server.crt.pem.*.tmp
    assert [p.name for p in target.iterdir()] == ["held"]
