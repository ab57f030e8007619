"""``lineguard node``: enrollment tokens, the list of nodes, revocation (administrators)."""

from __future__ import annotations

from pathlib import Path

import click

from lineguard.cli.options import SERVER_CONFIG, cli_actor
from lineguard.config import load_server_config

__all__ = ["node"]


@click.group()
def node() -> None:
    """Manage edge nodes' identities on the plant server host."""


@node.command("token")
@SERVER_CONFIG
@click.option("--node-id", required=True, help="Name of the node to enroll.")
@click.option("--line", "line_id", required=True, help="The production line the node serves.")
@click.option("--camera", "camera_ids", multiple=True, required=True, help="A camera id (repeat for each).")
@click.option(
    "--ttl-hours", type=float, default=None, help="Token lifetime (default: pki.enrollment_token_hours)."
)
def token(
    config_path: Path, node_id: str, line_id: str, camera_ids: tuple[str, ...], ttl_hours: float | None
) -> None:
    """Issue a one-time enrollment token binding NODE to a line and its cameras.

    The token is printed once; the server keeps only its hash. It embeds the CA's
    sha256 so the node can authenticate the server on first contact.

    \b
    Example:
      lineguard node token --config server.yaml --node-id line1-node --line line-1 \\
          --camera cam-top --camera cam-side
      lgt1.5d1c...   (hand to the installer: lineguard edge enroll --token ...)
    """
    from datetime import timedelta

    from lineguard.server import nodes as node_service
    from lineguard.server.admin import admin_session, load_ca

    settings = load_server_config(config_path)
    hours = ttl_hours if ttl_hours is not None else settings.pki.enrollment_token_hours
    plant_ca = load_ca(settings)
    with admin_session(settings, actor=cli_actor("node")) as admin:
        issued = node_service.issue_token(
            admin.session,
            ca=plant_ca,
            node_id=node_id,
            site_id=settings.site_id,
            line_id=line_id,
            camera_ids=list(camera_ids),
            ttl=timedelta(hours=hours),
            created_by=admin.actor,
            audit=admin.audit,
        )
    click.echo(str(issued))
    click.echo(f"valid for {hours:g} h, once, for node {node_id} on line {line_id}", err=True)


@node.command("list")
@SERVER_CONFIG
def list_(config_path: Path) -> None:
    """List enrolled nodes, their binding, status and certificate expiry.

    \b
    Example:
      lineguard node list --config server.yaml
    """
    from lineguard.server import nodes as node_service
    from lineguard.server.admin import admin_session

    with admin_session(load_server_config(config_path), actor=cli_actor("node")) as admin:
        nodes = node_service.list_nodes(admin.session)
    if not nodes:
        click.echo("no nodes enrolled")
    for n in nodes:
        expiry = (
            f"cert to {n.certificate_not_after:%Y-%m-%d %H:%M}Z"
            if n.certificate_not_after
            else "no valid cert"
        )
        click.echo(f"{n.node_id}\t{n.status}\t{n.line_id}\t{','.join(n.camera_ids)}\t{expiry}")


@node.command("revoke")
@SERVER_CONFIG
@click.argument("node_id")
@click.option("--reason", required=True, help="Why (kept in the audit log).")
def revoke(config_path: Path, node_id: str, reason: str) -> None:
    """Revoke NODE_ID: its certificates stop working on its next request.

    \b
    Example:
      lineguard node revoke --config server.yaml line1-node --reason "replaced hardware"
    """
    from lineguard.server import nodes as node_service
    from lineguard.server.admin import admin_session

    with admin_session(load_server_config(config_path), actor=cli_actor("node")) as admin:
        node_service.revoke(
            admin.session, node_id=node_id, reason=reason, actor=admin.actor, audit=admin.audit
        )
    click.echo(f"node {node_id} revoked")
