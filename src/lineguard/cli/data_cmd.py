"""``lineguard data``: plant data into the server's plant-data store (docs/plant-data.md).

Run on the server host with its environment (the keyring passphrase seals what is
imported). Every import is one transaction and one ``plant_data.imported`` audit entry.
"""

from __future__ import annotations

from pathlib import Path

import click

from lineguard.cli.options import SERVER_CONFIG, cli_actor
from lineguard.config import load_server_config

__all__ = ["data"]


@click.group()
def data() -> None:
    """Plant data (production, quality, maintenance, finance, vendor terms, customer orders)."""


@data.command("import")
@SERVER_CONFIG
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--category", required=True, help="Plant-data category of every record in FILE.")
@click.option(
    "--line",
    "lines",
    multiple=True,
    help="Line the records are about (repeat for several; none: the whole site).",
)
@click.option(
    "--source", default="file", show_default=True, help="Source name: the same source and key update."
)
@click.option("--key", default=None, help="Key of a document in its source (default: the file name).")
@click.option("--type", "record_type", default=None, help="Record type of a document (default: document).")
def import_file(
    config_path: Path,
    file: Path,
    category: str,
    lines: tuple[str, ...],
    source: str,
    key: str | None,
    record_type: str | None,
) -> None:
    """Import FILE (CSV, JSON lines, Markdown, text or PDF) as plant data of CATEGORY.

    CSV and JSON lines hold one record per row and need an ``id`` column; a bad row is
    reported with its line number and nothing of the file is imported. A re-import
    updates changed records and never widens a record's scope.

    \b
    Example:
      lineguard data import orders.csv --category customer_orders --config server.yaml
      imported orders.csv (csv): 120 new, 3 updated, 0 unchanged
      lineguard data import sop-press.md --category production_data --line line-1 --config server.yaml
    """
    from lineguard.server.plantdata import import_records, parse_file
    from lineguard.server.protection import default_audit, default_sealer
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    parsed = parse_file(
        file, category=category, lines=lines or None, source=source, key=key, record_type=record_type
    )
    with opened_storage(settings) as sessions:
        result = import_records(
            sessions,
            site_id=settings.site_id,
            records=parsed.records,
            sealer=default_sealer(settings, sessions),
            actor=cli_actor("data"),
            audit=default_audit(settings),
        )
    click.echo(
        f"imported {file.name} ({parsed.format}): {len(result.inserted)} new, {len(result.updated)} updated, "
        f"{len(result.unchanged)} unchanged"
        + (
            f", {len(result.kept_narrower)} kept at their narrower stored scope"
            if result.kept_narrower
            else ""
        )
    )
