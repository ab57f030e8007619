"""``lineguard governance``: build the governance documents, record the notice's publication."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from lineguard.cli.options import SERVER_CONFIG, cli_actor
from lineguard.cli.server_db import server_session
from lineguard.contracts.errors import InputError

__all__ = ["governance"]


@click.group()
def governance() -> None:
    """Governance documents generated from the live configuration (docs/governance.md)."""


@governance.command("build")
@SERVER_CONFIG
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write.",
)
def build(config_path: Path, out_dir: Path) -> None:
    """Write every document as HTML and PDF, and manifest.json; audit the manifest's sha256.

    Record of processing (GDPR Art. 30), worker notices per line in English and German,
    data inventory, DPIA draft, EU AI Act file per deployed model, vendor answers,
    architecture pack. The same configuration gives the same files.

    \b
    Example:
      lineguard governance build --config server.yaml --out governance-2026-12
      built 11 documents into governance-2026-12 (manifest sha256 3f1c…)
    """
    from lineguard.server.governance import build_documents

    with server_session(config_path) as (settings, session):
        result = build_documents(session, settings=settings, out_dir=out_dir, actor=cli_actor("governance"))
    click.echo(
        f"built {len(result.documents)} documents into {out_dir} (manifest sha256 {result.manifest_sha256})"
    )


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        msg = f"--date must be YYYY-MM-DD, got {value!r}"
        raise InputError(msg) from None


@governance.command("notice-published")
@SERVER_CONFIG
@click.option("--date", "published_on", required=True, help="The day the notice was put up (YYYY-MM-DD).")
@click.option("--where", required=True, help="Where workers find it (notice board, intranet page ...).")
def notice_published(config_path: Path, published_on: str, where: str) -> None:
    """Record that the worker notice of the latest build was published (the doctor checks it).

    \b
    Example:
      lineguard governance notice-published --config server.yaml --date 2026-12-01 \\
          --where "notice board at the line-1 entrance"
    """
    from lineguard.server.governance import record_notice_publication

    day = _date(published_on)
    with server_session(config_path) as (_, session):
        row = record_notice_publication(session, published_on=day, where=where, actor=cli_actor("governance"))
    click.echo(f"recorded: notice of build {row.build_id} published {row.published_on} ({row.where})")


@governance.command("config-audit")
@SERVER_CONFIG
def config_audit(config_path: Path) -> None:
    """Audit what changed in server.yaml and the listed edge.yaml files since last recorded.

    The server does this at every start; run it after editing a node's edge.yaml. Each
    changed setting becomes one config.changed entry (before and after, never a secret).

    \b
    Example:
      lineguard governance config-audit --config server.yaml
      2 settings changed: server.yaml:retention.alerts_days 365 -> 400, ...
    """
    from lineguard.server.audit import AuditRecorder
    from lineguard.server.governance import record_config_changes

    with server_session(config_path) as (settings, session):
        changes = record_config_changes(
            session, settings=settings, audit=AuditRecorder(), actor=cli_actor("governance")
        )
    if not changes:
        click.echo("no configuration change since the values were last recorded")
        return
    click.echo(f"{len(changes)} settings changed:")
    for c in changes:
        click.echo(f"  {c.setting}: {c.before} -> {c.after}")
