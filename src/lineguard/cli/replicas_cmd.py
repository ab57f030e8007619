"""``lineguard replicas``: the server replicas of the internal evidence-view relay, and revocation."""

from __future__ import annotations

from pathlib import Path

import click

from lineguard.cli.options import SERVER_CONFIG, cli_actor
from lineguard.config import load_server_config

__all__ = ["replicas"]


@click.group()
def replicas() -> None:
    """Server replicas sharing one PostgreSQL (docs/deployment.md, "Revoking a replica")."""


@replicas.command("list")
@SERVER_CONFIG
def list_(config_path: Path) -> None:
    """The replicas registered for the internal relay: id, address, heartbeat age, state.

    \b
    Example:
      lineguard replicas list --config server.yaml
      rep_01…  10.20.0.11:9443  heartbeat 1.2 s ago  skew +0.0 s  refused 0  alive
    """
    from lineguard.server.admin import admin_session
    from lineguard.server.evidence_views import STALE_S, list_replicas

    with admin_session(load_server_config(config_path), actor=cli_actor("replicas")) as admin:
        found = list_replicas(admin.session)
    for r in found:
        state = "revoked" if r.revoked else ("alive" if r.heartbeat_age_s < STALE_S else "stopped")
        click.echo(
            f"{r.replica_id}\t{r.host}:{r.port}\theartbeat {r.heartbeat_age_s:.1f} s ago\t"
            f"skew {r.clock_skew_s:+.1f} s\trefused {r.refused_connections}\t{state}"
        )
    if not found:
        click.echo("no replica registered (one server process, or none running)")


@replicas.command("revoke")
@SERVER_CONFIG
@click.argument("replica_id")
@click.option("--reason", required=True, help="Why (kept in the audit log).")
@click.option(
    "--not-running",
    is_flag=True,
    help="Revoke a replica that is not registered now (stopped before it was revoked): "
    "its id is in data_dir/replicas/<host name>.id on its host, or its LINEGUARD_REPLICA_ID.",
)
def revoke(config_path: Path, replica_id: str, reason: str, not_running: bool) -> None:
    """Revoke REPLICA_ID's relay identity: every replica refuses it from now on.

    REPLICA_ID is a replica or one of its worker processes (rep_….w1): the whole replica
    is revoked. Its views end lost, it opens no view, is refused a renewed certificate,
    and does not start again under that id (the id is kept across restarts). Also
    ``POST /api/v1/replicas/{replica_id}/revoke``.

    \b
    Example:
      lineguard replicas revoke --config server.yaml rep_01… --reason "host relay-b decommissioned"
      lineguard replicas revoke --config server.yaml rep_01… --not-running --reason "relay-c scrapped"
    """
    from lineguard.server.admin import admin_session
    from lineguard.server.evidence_views import revoke_replica

    with admin_session(load_server_config(config_path), actor=cli_actor("replicas")) as admin:
        event = revoke_replica(
            admin.session,
            replica_id=replica_id,
            reason=reason,
            actor=admin.actor,
            audit=admin.audit,
            not_running=not_running,
        )
    click.echo(f"replica {event.replica_id} revoked ({event.views_ended} open views ended)")
