"""Click options that several command groups share, defined once."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["EDGE_CONFIG", "SERVER_CONFIG"]

#: ``--config FILE`` naming the server's YAML, passed to the command as ``config_file``.
SERVER_CONFIG = click.option(
    "--config",
    "config_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The server's YAML config (kind: server).",
)

#: ``--config FILE`` naming an edge node's YAML, passed to the command as ``config_path``.
EDGE_CONFIG = click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The node's edge.yaml.",
)
