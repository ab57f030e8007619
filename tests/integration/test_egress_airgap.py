"""The browser suite, air-gapped: a network namespace with only loopback, created here.

A subset of tests/e2e (a role journey with an evidence image, the first sign-in with
MFA enrollment, against a real server over HTTPS, in headless Chromium) runs inside
``unshare --net`` with ``lo`` up and nothing else, under ``strace -f``. It must pass
there, and neither the server nor Chromium nor the test process may even try to
reach anything beyond loopback or resolve a name. The demo gets the same proof in
tests/integration/test_demo.py; docs/security.md explains the method.

The one attempt allowed is Chromium's IPv6 reachability probe: a UDP ``connect`` to
Google's public DNS address that sends no packet (Chromium asks the kernel which
source address it would use) and that no flag turns off; in this namespace it fails
with ENETUNREACH.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.egress import Attempt, clean_env, egress_attempts, in_loopback_namespace, strace_prefix

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
SUBSET = [
    "tests/e2e/test_journeys.py",
    "-k",
    "quality_engineer_opens_an_alert or first_sign_in_changes_the_one_time_password",
]
#: Chromium's IPv6 reachability probe (see the module docstring).
CHROMIUM_IPV6_PROBE = ("connect", "AF_INET6", "2001:4860:4860::8888", 443)


def _is_ipv6_probe(attempt: Attempt) -> bool:
    return (attempt.syscall, attempt.family, attempt.address, attempt.port) == CHROMIUM_IPV6_PROBE


def test_the_browser_suite_passes_with_only_loopback_and_tries_nothing_else(tmp_path: Path) -> None:
    home, trace = tmp_path / "home", tmp_path / "e2e.trace"
    home.mkdir()
    pytest_run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUBSET]
    out = subprocess.run(
        in_loopback_namespace(f"exec {shlex.join([*strace_prefix(trace), *pytest_run])}"),
        cwd=ROOT,
        env=clean_env(home),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "2 passed" in out.stdout, out.stdout[-2000:]
    attempts = egress_attempts(trace.read_text(encoding="utf-8", errors="replace"))
    assert [a for a in attempts if not _is_ipv6_probe(a)] == [], "\n".join(map(str, attempts[:20]))
    assert not (home / ".cache" / "Microsoft").exists()


def test_the_namespace_really_has_no_route_out() -> None:
    """The proof above is only as good as the namespace: nothing but loopback answers."""
    probe = (
        "import socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "try:\n"
        "    s.connect(('192.0.2.1', 53))\n"
        "    print('routed')\n"
        "except OSError as exc:\n"
        "    print(exc.errno)\n"
    )
    out = subprocess.run(
        in_loopback_namespace(f"ip -o link show | wc -l; exec {shlex.join([sys.executable, '-c', probe])}"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    links, result = out.stdout.split()
    assert (links, result) == ("1", "101")  # only lo; ENETUNREACH
