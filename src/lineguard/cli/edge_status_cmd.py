"""``lineguard edge status``: how a node is doing, read from its status file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from lineguard.cli.options import EDGE_CONFIG
from lineguard.contracts.errors import NotFoundError

__all__ = ["status"]

STALE_AFTER_S = 10.0


@click.command("status")
@EDGE_CONFIG
@click.option("--json", "as_json", is_flag=True, help="Print the raw status document.")
def status(config_path: Path, as_json: bool) -> None:
    """Show the node's health: cameras, fps, latency, drops, outbox backlog, evidence.

    Exits 0 when the node is running and every camera streams, 1 when it is degraded
    (a camera down, the server unreachable) or not running.

    \b
    Example:
      lineguard edge status --config /etc/lineguard/edge.yaml
      node line1-node: running (pid 4242, up 3600s)
      cam-top   streaming  30.0 fps  p50 14.2 ms  p99 31.0 ms  dropped 0  corrupt 0
      outbox: 0 waiting, 120345 sent, server connected
    """
    from lineguard.config import load_edge_config
    from lineguard.edge.app import status_path

    config = load_edge_config(config_path)
    path = status_path(config.node.data_dir)
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        msg = f"no status at {path}: the node has not run yet (start it with `lineguard edge run`)"
        raise NotFoundError(msg) from None
    age = (datetime.now(UTC) - datetime.fromisoformat(doc["updated_at"])).total_seconds()
    running = age <= STALE_AFTER_S
    if as_json:
        click.echo(json.dumps({**doc, "running": running, "age_s": round(age, 1)}, indent=2))
    else:
        state = (
            f"running (pid {doc['pid']}, up {doc['uptime_s']:.0f}s)"
            if running
            else f"NOT RUNNING (last seen {age:.0f}s ago)"
        )
        click.echo(f"node {doc['node_id']}: {state}")
        for cam in doc["cameras"]:
            click.echo(_camera_line(cam))
        out, ev = doc["outbox"], doc["evidence"]
        link = (
            "standalone"
            if out["server"] is None
            else ("server connected" if out["connected"] else f"server UNREACHABLE ({out['last_error']})")
        )
        click.echo(f"outbox: {out['backlog']} waiting, {out['sent']} sent, {out['shed']} shed, {link}")
        click.echo(
            f"evidence: {ev['stored']} stored, {ev['redaction_failures']} not stored (redaction failed)"
            + _shed_text(ev)
        )
        click.echo(
            f"disk: {doc['disk']['used_bytes'] / 2**20:.1f} of {doc['disk']['budget_bytes'] / 2**20:.0f} MiB"
        )
    healthy = (
        running
        and all(c["state"] == "streaming" for c in doc["cameras"])
        and (doc["outbox"]["server"] is None or doc["outbox"]["connected"])
    )
    raise SystemExit(0 if healthy else 1)


def _shed_text(ev: dict[str, Any]) -> str:
    """Evidence shed under load, per verdict; written by nodes since evidence shedding (else empty)."""
    shed = ev.get("dropped_by_category")
    if not shed or not any(shed.values()):
        return ""
    parts = ", ".join(f"{shed.get(c, 0)} {c}" for c in ("fail", "uncertain", "pass"))
    return f"; SHED under load: {parts}"


def _camera_line(cam: dict[str, Any]) -> str:
    line = (
        f"{cam['camera_id']:<10} {cam['state']:<12} {cam['fps']:5.1f} fps"
        f"  p50 {cam['latency_p50_ms']:.1f} ms  p99 {cam['latency_p99_ms']:.1f} ms"
        f"  dropped {cam['frames_dropped']}  corrupt {cam['frames_corrupt']}  invalid {cam['frames_invalid']}"
    )
    return line + (f"  ({cam['last_error']})" if cam["last_error"] else "")
