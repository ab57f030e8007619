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


@data.group("sync")
def sync() -> None:
    """Read plant data from a connected system (the ERP) into the plant-data store."""


@sync.command("erp")
@SERVER_CONFIG
def sync_erp(config_path: Path) -> None:
    """Read what changed in the ERP (erp: in server.yaml) and store it, labelled.

    Reads through the ERP's API as its read-only user, through the egress gate; each
    model becomes its category (sales → customer_orders, purchase prices and terms →
    vendor_terms, costs and stock valuation → finance_pricing, production →
    production_data, inspections → quality_data), scoped by erp.warehouses. Incremental
    and idempotent; one transaction; audited (erp.synced / erp.sync_failed). A record
    missing a field its category needs is listed and left out (read again next time);
    exit status 1 then. An ERP that is down or refuses the login stores nothing (exit 2).

    \b
    Example:
      lineguard data sync erp --config server.yaml
      erp tryton: read 19, 20 new, 0 updated, 0 unchanged, 1 derived
        sale.sale  read 3  stored 3
        ...
    """
    from lineguard.contracts.errors import InputError
    from lineguard.server.egress import build_gate
    from lineguard.server.integrations import sync_erp as run_sync
    from lineguard.server.protection import default_audit, default_sealer
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    if settings.erp is None:
        msg = "no ERP configured: add an erp: section to server.yaml (docs/plant-data.md#erp-connector)"
        raise InputError(msg)
    audit = default_audit(settings)
    with opened_storage(settings) as sessions:
        report = run_sync(
            sessions,
            config=settings.erp,
            site_id=settings.site_id,
            gate=build_gate(settings, sessions=sessions, audit=audit),
            sealer=default_sealer(settings, sessions),
            audit=audit,
            actor=cli_actor("data"),
        )
    click.echo(
        f"erp {report.erp}: read {report.read}, {report.inserted} new, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.derived} derived"
        + (f", {report.kept_narrower} kept at their narrower stored scope" if report.kept_narrower else "")
    )
    for model, count in report.models.items():
        extra = f"  left out {count.skipped}" if count.skipped else ""
        if count.site_wide_unmapped:
            extra += f"  site-wide (warehouse not in erp.warehouses) {count.site_wide_unmapped}"
        click.echo(f"  {model}  read {count.read}  stored {count.stored}{extra}")
    for problem in report.problems:
        click.echo(f"  left out: {problem}")
    if report.problems:
        raise SystemExit(1)
