"""``lineguard access-review``: list every account and its findings, then sign the review off."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lineguard.cli.options import SERVER_CONFIG, cli_actor
from lineguard.cli.server_db import server_session

__all__ = ["access_review"]


@click.group("access-review")
def access_review() -> None:
    """Periodic access reviews (who holds which role where; dormant, partner, duty findings)."""


@access_review.command("start")
@SERVER_CONFIG
def start(config_path: Path) -> None:
    """Freeze every account, role, line scope and last sign-in, with the findings, into a review.

    \b
    Example:
      lineguard access-review start --config server.yaml
      started arv_0193…: 14 accounts, 3 findings (lineguard access-review show to read them)
    """
    from lineguard.server.governance import start_review

    with server_session(config_path) as (settings, session):
        row = start_review(session, settings=settings, actor=cli_actor("access-review"))
    snap = row.snapshot
    click.echo(
        f"started {row.id}: {len(snap['accounts'])} accounts, {len(snap['findings'])} findings "
        "(lineguard access-review show to read them)"
    )


@access_review.command("show")
@SERVER_CONFIG
@click.option("--review", "review_id", help="Review id (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Print the review as JSON.")
def show(config_path: Path, review_id: str | None, as_json: bool) -> None:
    """Show a review: each account with its grants, the findings, and whether a review is overdue.

    \b
    Example:
      lineguard access-review show --config server.yaml
    """
    from lineguard.server.governance import access_review_status

    with server_session(config_path) as (settings, session):
        row, overdue, due = access_review_status(session, settings=settings, review_id=review_id)
    signed = (
        f"signed off by {row.signed_off_by} {row.signed_off_at:%Y-%m-%d}" if row.signed_off_at else "open"
    )
    if as_json:
        body = {"id": row.id, "status": signed, "overdue": overdue, "due": due, **row.snapshot}
        click.echo(json.dumps(body, indent=2))
        return
    click.echo(f"access review {row.id} started {row.started_at:%Y-%m-%d} by {row.started_by}: {signed}")
    click.secho(("OVERDUE: " if overdue else "") + due, fg="red" if overdue else None)
    for account in row.snapshot["accounts"]:
        state = "disabled" if account["disabled"] else ("MFA" if account["mfa"] else "no MFA")
        click.echo(
            f"  {account['username']} ({account['name']}, {state}, last sign-in {account['last_sign_in']})"
        )
        for g in account["grants"]:
            until = f" until {g['until']}" if g["until"] else ""
            click.echo(f"      {g['grant_id']}  {g['role']} on {g['scope']}{until}")
    click.echo(f"findings ({len(row.snapshot['findings'])}):")
    for f in row.snapshot["findings"]:
        grant = f" [{f['grant']}]" if "grant" in f else ""
        click.echo(f"  {f['kind']}: {f['username']}{grant}: {f['detail']}")


@access_review.command("sign-off")
@SERVER_CONFIG
@click.option("--review", "review_id", required=True, help="The review to sign off.")
@click.option(
    "--as",
    "reviewer",
    required=True,
    help="Your username: a reviewer named in governance.owners. You are asked for your password "
    "and a fresh authenticator code.",
)
@click.option(
    "--revoke", "revoke", multiple=True, help="A grant id to revoke as part of the review. Repeatable."
)
@click.option("--note", default="", help="What was decided, for the record.")
def sign_off(config_path: Path, review_id: str, reviewer: str, revoke: tuple[str, ...], note: str) -> None:
    """Sign a review off, revoking the grants it found unjustified (each revocation audited).

    The sign-off is the reviewer's own act: they type their password and a fresh
    authenticator code (terminal or stdin), checked as at sign-in and audited as
    ``auth.person_confirmed``; access to the server host does not stand in for them.

    \b
    Example:
      lineguard access-review sign-off --config server.yaml --review arv_0193… --as a.auditor \\
          --revoke grt_0193… --note "partner contract ended"
      password of a.auditor:
      authenticator code of a.auditor: 492817
      signed off arv_0193… as a.auditor; revoked 1 grants
    """
    from lineguard.cli.four_eyes import confirm_at_terminal
    from lineguard.config import load_server_config
    from lineguard.server.auth import AuthRuntime
    from lineguard.server.governance import check_reviewer, sign_off_review
    from lineguard.server.protection import default_audit
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    check_reviewer(settings, reviewer)  # before asking anyone for a password
    with opened_storage(settings) as sessions, sessions() as session:
        confirm_at_terminal(
            settings=settings,
            session=session,
            sessions=sessions,
            runtime=AuthRuntime.build(settings.site_id, settings.auth),
            audit=default_audit(settings),
            username=reviewer,
            purpose="access_review.sign_off",
            via=cli_actor("access-review"),
        )
        row = sign_off_review(
            session,
            settings=settings,
            review_id=review_id,
            reviewer=reviewer,
            revoke=list(revoke),
            note=note,
        )
    click.echo(f"signed off {row.id} as {reviewer}; revoked {len(row.revoked_grants)} grants")
