"""``lineguard retention``: sweep now, place and release legal holds, show the state.

The server sweeps on its own every ``retention.sweep_interval_s``; these commands are
for a sweep on demand and for legal holds, which every sweep honours.
"""

from __future__ import annotations

from pathlib import Path

import click

from lineguard.cli.options import SERVER_CONFIG, cli_actor
from lineguard.config import load_server_config

__all__ = ["retention"]


@click.group()
def retention() -> None:
    """Retention per data category and legal holds."""


@retention.command("sweep")
@SERVER_CONFIG
def sweep(config_path: Path) -> None:
    """Delete (crypto-shred) everything older than its category's retention, now.

    \b
    Example:
      lineguard retention sweep --config server.yaml
      sweep swp_0193…: inspection_events 1200 deleted, alerts 14 deleted, 2 held; 1214 data keys shredded
    """
    from lineguard.server.retention import run_sweep
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    with opened_storage(settings) as sessions:
        result = run_sweep(sessions, settings.retention, trigger="manual", actor=cli_actor("retention"))
    parts = [
        f"{name} {n} deleted" + (f" ({result.held[name]} held)" if result.held.get(name) else "")
        for name, n in result.deleted.items()
    ]
    click.echo(f"sweep {result.sweep_id}: {', '.join(parts)}; {result.keys_shredded} data keys shredded")


@retention.command("hold")
@SERVER_CONFIG
@click.option("--category", "category_name", required=True, help="Data category, e.g. inspection_events.")
@click.option(
    "--record", "record_id", required=True, help="The record's id (event_id, alert_id, evidence ref…)."
)
@click.option("--reason", required=True, help="Case or ticket reference: why this record must be kept.")
def hold(config_path: Path, category_name: str, record_id: str, reason: str) -> None:
    """Exempt one named record from deletion until the hold is released.

    \b
    Example:
      lineguard retention hold --config server.yaml --category inspection_events \\
          --record evt_0193ab… --reason "customer complaint 2026-117"
      hold_0193… placed on inspection_events/evt_0193ab…
    """
    from lineguard.server.retention import place_hold
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    with opened_storage(settings) as sessions, sessions() as session:  # place_hold / release_hold commit
        row = place_hold(
            session,
            category_name=category_name,
            record_id=record_id,
            reason=reason,
            actor=cli_actor("retention"),
        )
        hold_id = row.hold_id
    click.echo(f"{hold_id} placed on {category_name}/{record_id}")


@retention.command("release")
@SERVER_CONFIG
@click.argument("hold_id")
@click.option("--reason", required=True, help="Why the hold ends.")
def release(config_path: Path, hold_id: str, reason: str) -> None:
    """Release legal hold HOLD_ID; the record then ages out with the next sweep.

    \b
    Example:
      lineguard retention release --config server.yaml hold_0193… --reason "case closed"
    """
    from lineguard.server.retention import release_hold
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    with opened_storage(settings) as sessions, sessions() as session:  # place_hold / release_hold commit
        release_hold(session, hold_id=hold_id, reason=reason, actor=cli_actor("retention"))
    click.echo(f"{hold_id} released")


@retention.command("status")
@SERVER_CONFIG
def status(config_path: Path) -> None:
    """Show retention per category, active legal holds and the last sweeps.

    \b
    Example:
      lineguard retention status --config server.yaml
    """
    from sqlalchemy import select

    from lineguard.server.retention import CATEGORIES, LegalHoldRow, RetentionSweepRow
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    click.echo("retention:")
    for cat in CATEGORIES.values():
        click.echo(f"  {cat.name:<20} {cat.days(settings.retention):>6} days  {cat.description}")
    click.echo(
        f"  {'audit_log':<20} {settings.retention.audit_log_days:>6} days  pruned only at signed checkpoints"
    )
    with opened_storage(settings) as sessions, sessions() as session:
        holds = session.scalars(select(LegalHoldRow).where(LegalHoldRow.released_at.is_(None))).all()
        sweeps = session.scalars(
            select(RetentionSweepRow).order_by(RetentionSweepRow.started_at.desc()).limit(5)
        ).all()
        click.echo(f"active legal holds: {len(holds)}")
        for h in holds:
            when = f"{h.placed_at:%Y-%m-%d}"
            click.echo(f"  {h.hold_id}  {h.category}/{h.record_id}  by {h.placed_by}  {when}  {h.reason}")
        click.echo("last sweeps:")
        for s in sweeps:
            deleted = sum(int(v) for v in s.deleted.values())
            started = f"{s.started_at:%Y-%m-%dT%H:%M:%SZ}"
            click.echo(f"  {s.sweep_id}  {started}  {s.status:<7} {deleted} deleted  {s.error or ''}")
