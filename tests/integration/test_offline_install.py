"""A plant without registry access installs LineGuard from ``python3 dev.py bundle``.

The bundle is made here, online (the registry is the source of the wheels); the install
runs in a network namespace with only loopback, into a fresh virtual environment, with
``pip install --no-index`` and pip's own configuration emptied (this machine's pip.conf
adds local indexes and find-links), so nothing but the bundle can supply a package. CI
bundles the core install (LineGuard's wheel and the core dependencies) to stay fast; the
edge and full bundles work the same way and are measured in docs/operations.md.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.egress import in_loopback_namespace

from lineguard import __version__

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _bundle(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "dev.py", "bundle", "--out", str(out), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _offline_env(home: Path) -> dict[str, str]:
    """No pip configuration of this machine (extra indexes, find-links), a fresh home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "PYTHONPATH"}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "HOME": str(home)}


def test_a_bundle_installs_into_a_fresh_venv_without_network_or_index(tmp_path: Path) -> None:
    wheelhouse, venv, home = tmp_path / "wheelhouse", tmp_path / ".venv", tmp_path / "home"
    home.mkdir()
    made = _bundle(wheelhouse, "--extras", "core")
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    wheels = sorted(p.name for p in wheelhouse.glob("*.whl"))
    assert f"lineguard-{__version__}-py3-none-any.whl" in wheels
    assert any(name.startswith("pydantic-") for name in wheels)
    assert "pip-26.3-py3-none-any.whl" in wheels  # the plant's Python needs no pip of its own
    assert "python3" in (wheelhouse / "system-packages.txt").read_text()
    for line in (wheelhouse / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((wheelhouse / name).read_bytes()).hexdigest() == digest, name

    # Exactly the commands the bundle prints (install.txt), run from the bundle's parent.
    steps = (wheelhouse / "install.txt").read_text().strip().splitlines()
    assert steps[0] == "python3 -m venv --without-pip .venv"
    steps[0] = f"{shlex.quote(sys.executable)} -m venv --without-pip .venv"  # this interpreter
    script = "; ".join([*steps, "exec .venv/bin/lineguard --version"])
    out = subprocess.run(
        in_loopback_namespace(script),
        cwd=tmp_path,  # the bundle's parent, not the checkout: the installed package must run
        env=_offline_env(home),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert __version__ in out.stdout
    installed = subprocess.run(
        [f"{venv}/bin/python", "-c", "import lineguard; print(lineguard.__file__)"],
        cwd=tmp_path,
        env=_offline_env(home),
        capture_output=True,
        text=True,
        check=True,
    )
    assert installed.stdout.startswith(str(venv)), installed.stdout


def test_bundle_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "old.whl").write_text("x")
    out = _bundle(tmp_path)
    assert out.returncode != 0
    assert f"{tmp_path} is not empty" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.whl"]
