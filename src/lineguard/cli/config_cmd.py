"""``lineguard config``: check configuration files before a process uses them."""

from __future__ import annotations

from pathlib import Path

import click

from lineguard.config import load_config

__all__ = ["config"]


@click.group()
def config() -> None:
    """Work with LineGuard configuration files."""


@config.command("check")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def check(file: Path) -> None:
    """Validate FILE (an edge, server or enterprise roll-up config) and report every error with its key path.

    \b
    Example:
      lineguard config check examples/edge.yaml
      examples/edge.yaml: ok (edge config, node line1-node, 2 camera(s))
    """
    loaded = load_config(file)
    if loaded.kind == "edge":
        summary = f"edge config, node {loaded.node.node_id}, {len(loaded.cameras)} camera(s)"
    elif loaded.kind == "enterprise":
        summary = f"enterprise roll-up config, listening on {loaded.http.host}:{loaded.http.port}"
    else:
        summary = f"server config, site {loaded.site_id}"
    click.echo(f"{file}: ok ({summary})")
