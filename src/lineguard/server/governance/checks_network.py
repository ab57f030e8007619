"""Doctor checks of the network group: bind address, TLS, certificates, outbound traffic."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from lineguard.server.governance.checklist import DoctorInputs, Status, check

__all__ = ["telemetry_leftovers"]

Result = tuple[Status, str, str | None]

_WILDCARDS = {"0.0.0.0", "::", ""}  # noqa: S104 - the values we warn about


@check("network.bind_address", "network", "Server bind address")
def bind_address(i: DoctorInputs) -> Result:
    host = i.state.settings.http.host
    where = f"http.host = {host!r}, port {i.state.settings.http.port}"
    if host in _WILDCARDS:
        return (
            "warn",
            f"{where}: listens on every interface",
            "set http.host in server.yaml to the plant-network address nodes and browsers use",
        )
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return ("warn", f"{where}: loopback only, no node on another machine can reach it", None)
    return ("pass", where, None)


@check("network.tls", "network", "TLS version")
def tls_version(i: DoctorInputs) -> Result:
    version = i.state.settings.http.min_tls_version
    evidence = f"http.min_tls_version = {version!r} (modern ciphers only; HTTP is never served)"
    if version == "1.3":
        return ("pass", evidence, None)
    return ("warn", evidence, 'set http.min_tls_version: "1.3" once every client speaks TLS 1.3')


@check("network.server_certificate", "network", "Plant CA and server certificate")
def server_certificate(i: DoctorInputs) -> Result:
    ca, cert = i.state.ca_certificate, i.state.server_certificate
    if ca is None:
        return ("fail", "no plant CA under data_dir/ca", "lineguard ca init --config server.yaml")
    if cert is None:
        return (
            "fail",
            "no server certificate under data_dir/ca",
            "lineguard server run --config server.yaml",
        )
    if cert.not_after <= i.state.now:
        return (
            "fail",
            f"server certificate expired {cert.not_after:%Y-%m-%d}",
            "restart the server (reissues it)",
        )
    return ("pass", f"CA {ca.subject}; server certificate valid until {cert.not_after:%Y-%m-%d}", None)


@check("network.client_certificates", "network", "Client certificates of edge nodes")
def client_certificates(i: DoctorInputs) -> Result:
    nodes = i.state.nodes
    if not nodes:
        return (
            "warn",
            "no node enrolled yet (every node route requires a client certificate of the plant CA)",
            "lineguard node token --config server.yaml --node-id ... --line ... --camera ...",
        )
    expired = [
        n.node_id for n in nodes if n.certificate_not_after is None or n.certificate_not_after <= i.state.now
    ]
    if expired:
        return (
            "warn",
            f"{len(nodes)} active nodes; without a valid certificate: {', '.join(expired)}",
            "start the node (it renews at 2/3 of its certificate's life) or revoke it: lineguard node revoke",
        )
    return ("pass", f"{len(nodes)} active nodes, each with a valid client certificate (mTLS required)", None)


_CLEARTEXT = {"http", "mqtt", "syslog+tcp", "syslog+udp"}


@check("network.outbound", "network", "Outbound connections only through the allowlist")
def outbound(i: DoctorInputs) -> Result:
    egress = i.state.settings.egress
    if not egress.allow:
        return ("pass", "egress allowlist is empty: the egress gate refuses every outbound connection", None)
    rules = ", ".join(r.describe() + (f" ({r.purpose})" if r.purpose else "") for r in egress.allow)
    evidence = f"{len(egress.allow)} allowed destinations through the egress gate: {rules}"
    cleartext = [r.describe() for r in egress.allow if r.scheme in _CLEARTEXT]
    if egress.allow_wildcards:
        return (
            "warn",
            f"{evidence}; wildcard hosts allowed",
            "list exact hosts and set allow_wildcards: false",
        )
    if cleartext:
        return (
            "warn",
            f"{evidence}; without TLS: {', '.join(cleartext)}",
            "use https, mqtts or syslog+tls for these destinations in egress.allow",
        )
    return ("pass", evidence, None)


def telemetry_cache_dir(home: Path | None = None, xdg_cache_home: str | None = None) -> Path:
    """Where ONNX Runtime's telemetry keeps its device id and offline queue.

    It follows ``$XDG_CACHE_HOME`` when set, else ``~/.cache``; only the ``.onnxruntime``
    folder is ONNX Runtime's: ``Microsoft/DeveloperTools`` may also hold other Microsoft
    tools' state (the .NET SDK), which the fix must not delete."""
    xdg = os.environ.get("XDG_CACHE_HOME") if xdg_cache_home is None else xdg_cache_home
    cache = Path(xdg) if xdg else (home or Path.home()) / ".cache"
    return cache / "Microsoft" / "DeveloperTools" / ".onnxruntime"


def telemetry_leftovers(home: Path | None = None, xdg_cache_home: str | None = None) -> Path | None:
    """ONNX Runtime's telemetry folder if it exists (docs/security.md)."""
    folder = telemetry_cache_dir(home, xdg_cache_home)
    return folder if folder.exists() else None


@check("network.telemetry", "network", "No ONNX Runtime telemetry leftovers")
def telemetry(i: DoctorInputs) -> Result:
    found = telemetry_leftovers()
    if found is None:
        return ("pass", f"{telemetry_cache_dir()} does not exist", None)
    return (
        "fail",
        f"{found} exists: ONNX Runtime wrote telemetry state (device id, queued events) on this host",
        f"rm -rf {found}; run LineGuard only with ORT_DISABLE_TELEMETRY=1 (docs/security.md)",
    )
