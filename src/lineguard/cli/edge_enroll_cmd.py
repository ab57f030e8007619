"""``lineguard edge enroll`` / ``renew``: give this node its identity on the plant server, renew it."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["enroll", "renew"]


@click.command()
@click.option(
    "--server", "server_url", required=True, help="The plant server, e.g. https://lineguard.plant.local:8443"
)
@click.option(
    "--token",
    required=True,
    envvar="LINEGUARD_ENROLL_TOKEN",
    help="One-time enrollment token from `lineguard node token` (or env LINEGUARD_ENROLL_TOKEN).",
)
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The node's data directory (identity goes to DATA_DIR/identity).",
)
def enroll(server_url: str, token: str, data_dir: Path) -> None:
    """Generate this node's key (it never leaves the node), send a CSR, store the certificate.

    The token carries the plant CA's sha256: the node refuses a server whose CA does
    not match, before sending anything.

    \b
    Example:
      LINEGUARD_ENROLL_TOKEN=lgt1.5d1c... lineguard edge enroll \\
          --server https://lineguard.plant.local:8443 --data-dir /var/lib/lineguard/edge
    """
    from lineguard.edge.identity import IdentityStore
    from lineguard.edge.identity import enroll as do_enroll

    info = do_enroll(server_url, token, data_dir)
    not_after = IdentityStore(data_dir).not_after()
    click.echo(f"enrolled as {info.node_id} (line {info.line_id}, cameras {', '.join(info.camera_ids)})")
    click.echo(f"certificate valid to {not_after:%Y-%m-%d %H:%M}Z; renews automatically at 2/3 of its life")


@click.command()
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The node's data directory (identity in DATA_DIR/identity).",
)
def renew(data_dir: Path) -> None:
    """Renew this node's certificate now, for a fresh key (as at 2/3 of its life).

    Use it during a plant CA rotation so the node moves to the new CA (and keeps both
    CAs as its trust) before `lineguard ca retire`.

    \b
    Example:
      lineguard edge renew --data-dir /var/lib/lineguard/edge
    """
    from lineguard.edge.identity import renew as do_renew

    not_after = do_renew(data_dir)
    click.echo(f"certificate renewed, valid to {not_after:%Y-%m-%d %H:%M}Z")
