"""``lineguard doctor``: is this plant ready for go-live? The deployment checklist as a self-check."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lineguard.cli.options import SERVER_CONFIG
from lineguard.cli.server_db import server_session

__all__ = ["EXIT_CHECK_FAILED", "doctor"]

#: Exit status when at least one check failed (user errors exit 2, as everywhere).
EXIT_CHECK_FAILED = 1
_COLOURS = {"pass": "green", "warn": "yellow", "fail": "red"}


@click.command()
@SERVER_CONFIG
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (for automation).")
def doctor(config_path: Path, as_json: bool) -> None:
    """Check the deployment against the go-live checklist; exit 1 when anything fails.

    Groups: network, access, data governance, worker communication, vendor assessment,
    ongoing security. Each item is pass / warn / fail with the evidence it saw and the
    command that fixes it.

    \b
    Example:
      lineguard doctor --config server.yaml
      Access
        fail  MFA on every role that needs it: holding a role that requires MFA, without TOTP ...
              fix: each person signs in and enrolls TOTP (the server asks before anything else)
      lineguard doctor --config server.yaml --json | jq '.groups[].checks[] | select(.status=="fail")'
    """
    from lineguard.server.governance import GROUPS
    from lineguard.server.governance import doctor as run

    with server_session(config_path) as (settings, session):
        report = run(session, settings=settings)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        for group, title in GROUPS.items():
            click.secho(title, bold=True)
            for result in (r for r in report.results if r.group == group):
                status = click.style(f"{result.status:<4}", fg=_COLOURS[result.status])
                click.echo(f"  {status}  {result.title}: {result.evidence}")
                if result.fix and result.status != "pass":
                    click.echo(f"        fix: {result.fix}")
        counts = report.to_json()["counts"]
        click.echo(f"{counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} failed")
    if report.failed:
        raise SystemExit(EXIT_CHECK_FAILED)
