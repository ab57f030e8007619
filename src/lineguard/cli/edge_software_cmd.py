"""``lineguard edge software``: install signed node software from the registry, or roll back.

Software updates are applied when the plant decides (change management), not by a
background loop: an operator runs ``check`` on the node, which verifies the release the
registry's ``software`` role signed for this site, unpacks it into a new slot and points
``current`` at it; the service manager then starts the node from ``current``.
``rollback`` points ``current`` back at the kept previous version. Every step is
journaled on the node and reported to the server's audit log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lineguard.cli.options import EDGE_CONFIG

if TYPE_CHECKING:
    from lineguard.edge.update import SoftwareUpdater

__all__ = ["software"]


def _updater(config_path: Path) -> SoftwareUpdater:
    from lineguard.config import load_edge_config
    from lineguard.contracts.errors import InputError
    from lineguard.edge.identity import IdentityStore
    from lineguard.edge.update import connect_software

    config = load_edge_config(config_path)
    if not IdentityStore(config.node.data_dir).credentials_file.exists():
        msg = f"node {config.node.node_id} is not enrolled: run `lineguard edge enroll` first"
        raise InputError(msg)
    server_url = str(config.server.url) if config.server is not None else None
    return connect_software(config.node.data_dir, server_url=server_url)


@click.group("software")
def software() -> None:
    """Signed node-software updates (the registry's TUF ``software`` role)."""


@software.command("check")
@EDGE_CONFIG
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def check(config_path: Path, as_json: bool) -> None:
    """Verify and install the newest node software signed for this site.

    Refuses (exit 1, nothing switched) anything unsigned by the software role, older than
    what this node accepted, for another site, or altered; the check that failed is named.

    \b
    Example:
      lineguard edge software check --config /etc/lineguard/edge.yaml
      installed LineGuard 0.3.0 (release 2) into …/software/slots/r2-0.3.0: restart the node service to run it
    """
    with _updater(config_path) as updater:
        outcome = updater.check()
    release = outcome.release
    if as_json:
        doc = {
            "status": outcome.status,
            "release": release.release if release else None,
            "version": release.version if release else None,
            "slot": str(outcome.slot) if outcome.slot else None,
        }
        click.echo(json.dumps(doc))
    elif outcome.status == "installed" and release is not None:
        click.echo(
            f"installed LineGuard {release.version} (release {release.release}) into {outcome.slot}: "
            "restart the node service to run it"
        )
    elif outcome.status == "current" and release is not None:
        click.echo(f"LineGuard {release.version} (release {release.release}) is already installed")
    else:
        click.echo("no node software is published for this site")


@software.command("rollback")
@EDGE_CONFIG
def rollback(config_path: Path) -> None:
    """Point ``current`` back at the previously installed version (then restart the node).

    \b
    Example:
      lineguard edge software rollback --config /etc/lineguard/edge.yaml
      now LineGuard 0.2.0: restart the node service to run it
    """
    with _updater(config_path) as updater:
        outcome = updater.rollback()
    click.echo(f"now LineGuard {updater.slots.version_of(outcome.slot)}: restart the node service to run it")
