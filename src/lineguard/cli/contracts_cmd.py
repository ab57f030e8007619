"""``lineguard contracts``: publish the wire contracts for integrators."""

from __future__ import annotations

from pathlib import Path

import click

from lineguard.contracts.schema_export import write_schemas

__all__ = ["contracts"]


@click.group()
def contracts() -> None:
    """The messages that cross the edge → server boundary."""


@contracts.command("export-schemas")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=Path("docs/schemas"))
def export_schemas(directory: Path) -> None:
    """Write the JSON Schema of every wire message into DIRECTORY.

    \b
    Example:
      lineguard contracts export-schemas docs/schemas
    """
    for path in write_schemas(directory):
        click.echo(str(path))
