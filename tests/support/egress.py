"""Egress at the system-call level: run a command under ``strace -f`` or in a network
namespace with only loopback, and judge every address it tried to reach.

Python audit hooks see only what Python code does; native code (ONNX Runtime's 1DS
telemetry, a browser, a C library's resolver) is invisible to them. ``strace`` sees every
``connect``/``sendto``/``sendmsg``/``sendmmsg`` of every thread and child. An attempt is
allowed when it goes to loopback (not port 53), to a local Unix socket other than
systemd-resolved's, or to the kernel (netlink); everything else, and every DNS query, is
egress. (nscd's socket is allowed: glibc asks it for users and groups too, and on a host
without nscd, like CI, every host lookup shows as port 53 traffic anyway.)

Both tools are required, never optional: :func:`require` fails the test when one is
missing, because a skipped egress test proves nothing.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = [
    "Attempt",
    "assert_no_egress",
    "clean_env",
    "egress_attempts",
    "in_loopback_namespace",
    "require",
    "strace_prefix",
    "traced_child",
]

#: The system calls that name or use a destination.
TRACED = "connect,sendto,sendmsg,sendmmsg"
_SYSCALL = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(?:\d+:\d+:\d+\.\d+\s+)?(connect|sendto|sendmsg|sendmmsg)\(")
_ADDRESS = re.compile(r"\{sa_family=(AF_\w+)(?:, ([^{}]*))?\}")
_PORT = re.compile(r"sin6?_port=htons\((\d+)\)")
_IPV4 = re.compile(r'inet_addr\("([^"]+)"\)')
_IPV6 = re.compile(r'inet_pton\(AF_INET6, "([^"]+)"')
_UNIX = re.compile(r'sun_path=(@?"[^"]*")')
#: Unix sockets that only resolve host names: a lookup through them is a DNS query by proxy.
NAME_SERVICE_SOCKETS = ("systemd/resolve", "io.systemd.Resolve")
DNS_PORT = 53


@dataclass(frozen=True)
class Attempt:
    """One system call that tried to reach somewhere it must not."""

    pid: int
    syscall: str
    family: str
    address: str
    port: int | None
    line: str

    @property
    def is_dns(self) -> bool:
        return self.port == DNS_PORT or any(s in self.address for s in NAME_SERVICE_SOCKETS)

    def __str__(self) -> str:
        where = self.address if self.port is None else f"{self.address} port {self.port}"
        return f"pid {self.pid} {self.syscall} {self.family} {where}: {self.line.strip()[:200]}"


def require(tool: str) -> str:
    """The tool's path; fails (never skips) the calling test when it is missing."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is required for the egress tests and is not installed (python3 dev.py test)")
    return path


def strace_prefix(trace_file: Path) -> list[str]:
    """Command prefix that records every destination-bearing call of the process tree."""
    strace = require("strace")
    # --seccomp-bpf stops the tracee only on the traced calls (the rest run at full speed).
    options = ["--seccomp-bpf", "-f", "-qq", "-s", "96", "-e", f"trace={TRACED}", "-e", "signal=none"]
    return [strace, *options, "-o", str(trace_file)]


def in_loopback_namespace(command: str) -> list[str]:
    """``sh -c command`` in a new network namespace whose only interface is ``lo`` (up).

    Without ``--fork`` the shell keeps the pid ``Popen`` reports, and ``exec`` in
    ``command`` hands it on, so signals reach the command itself.
    """
    unshare, ip = require("unshare"), require("ip")
    return [unshare, "--net", "--", "sh", "-ec", f"{ip} link set lo up; {command}"]


def _allowed(family: str, body: str) -> tuple[bool, str, int | None]:
    """(allowed?, address, port) for one ``{sa_family=…}`` structure."""
    if family in {"AF_NETLINK", "AF_UNSPEC"}:
        return True, family, None  # the kernel itself / a UDP socket being disconnected
    if family == "AF_UNIX":
        match = _UNIX.search(body)
        path = match.group(1) if match else "(unnamed)"
        return not any(s in path for s in NAME_SERVICE_SOCKETS), path, None
    port_match = _PORT.search(body)
    port = int(port_match.group(1)) if port_match else None
    if family in {"AF_INET", "AF_INET6"}:
        ip_match = (_IPV4 if family == "AF_INET" else _IPV6).search(body)
        if ip_match is None:
            return False, body, port
        ip = ipaddress.ip_address(ip_match.group(1))
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        loopback = (mapped or ip).is_loopback
        return loopback and port != DNS_PORT, str(ip), port
    return False, body, port  # AF_PACKET and anything else: never expected


def egress_attempts(trace: str) -> list[Attempt]:
    """Every attempt in ``strace -f`` output that is not loopback, kernel or local IPC."""
    attempts: list[Attempt] = []
    for line in trace.splitlines():
        call = _SYSCALL.match(line)
        if call is None:
            continue  # "<... resumed>" halves, signals, exits: the address is on the first half
        for address in _ADDRESS.finditer(line):
            family, body = address.group(1), address.group(2) or ""
            allowed, where, port = _allowed(family, body)
            if not allowed:
                attempts.append(Attempt(int(call.group(1)), call.group(2), family, where, port, line))
    return attempts


def clean_env(home: Path) -> dict[str, str]:
    """This environment minus the telemetry switch, with a fresh home and cache: LineGuard
    must switch ONNX Runtime's telemetry off by itself, as it does in an operator's shell."""
    dropped = {"ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME"}
    return {**{k: v for k, v in os.environ.items() if k not in dropped}, "HOME": str(home)}


def assert_no_egress(trace_file: Path, home: Path) -> None:
    """No attempt beyond loopback in the trace, and no telemetry state under ``home``."""
    attempts = egress_attempts(trace_file.read_text(encoding="utf-8", errors="replace"))
    dns = [a for a in attempts if a.is_dns]
    assert attempts == [], (
        f"{len(attempts)} attempts to reach beyond loopback, {len(dns)} of them DNS queries:\n"
        + "\n".join(map(str, attempts[:20]))
    )
    # Judged here, not by the doctor's check: the test must not trust the code it checks.
    leftovers = home / ".cache" / "Microsoft"
    assert not leftovers.exists(), sorted(map(str, leftovers.rglob("*")))


def traced_child(strace_pid: int) -> int | None:
    """The pid of the command strace runs (signals go to it: strace ignores SIGINT); None once it ended."""
    try:
        children = Path(f"/proc/{strace_pid}/task/{strace_pid}/children").read_text(encoding="ascii").split()
    except FileNotFoundError:  # strace itself has exited
        return None
    assert len(children) <= 1, f"strace {strace_pid} has children {children}"
    return int(children[0]) if children else None
