"""``lineguard edge``: run, enroll and inspect an edge node.

Each subcommand lives in its own module and is imported only when used, so the
commands appear here as their capability lands.
"""

from __future__ import annotations

import click

from lineguard.cli.main import LazyGroup

__all__ = ["edge"]

EDGE_COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("lineguard.cli.edge_run_cmd", "run"),
    "status": ("lineguard.cli.edge_status_cmd", "status"),
    "enroll": ("lineguard.cli.edge_enroll_cmd", "enroll"),
    "renew": ("lineguard.cli.edge_enroll_cmd", "renew"),
    "keys": ("lineguard.cli.edge_keys_cmd", "keys"),
    "evidence": ("lineguard.cli.edge_evidence_cmd", "evidence"),
    "software": ("lineguard.cli.edge_software_cmd", "software"),
}


@click.group(cls=LazyGroup, lazy_commands=EDGE_COMMANDS)
def edge() -> None:
    """The edge node beside a production line."""
