"""``lineguard ask``: the plant assistant at the server's command line, as a named person.

Runs on the server host with its environment (the keyring passphrase opens the sealed
records). The answer follows the named person's grants and the workflow's boundary
exactly as in the dashboard; the question is audited with the command's actor.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from lineguard.cli.options import SERVER_CONFIG, cli_actor
from lineguard.config import load_server_config

__all__ = ["ask"]


@click.command()
@SERVER_CONFIG
@click.argument("question")
@click.option("--workflow", required=True, help="Assistant workflow (server.yaml assistant.workflows).")
@click.option("--as", "username", required=True, help="The person asking: the answer follows their grants.")
@click.option("--line", "lines", multiple=True, help="Only these lines (repeat for several).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON with answer, citations, scope, refused.")
def ask(
    config_path: Path, question: str, workflow: str, username: str, lines: tuple[str, ...], as_json: bool
) -> None:
    """Ask QUESTION in WORKFLOW as the person USERNAME.

    \b
    Example:
      lineguard ask "total order value by customer" --workflow sales_update --as f.controller \\
          --config server.yaml
      1. Zephyr Motors: 12500 order value (14 records). [1][2][3]
      Scope: customer-order data (all lines and the site), Sales update workflow.
    """
    from datetime import UTC, datetime

    from lineguard.server.assistant import AssistantState, person_named
    from lineguard.server.assistant import ask as ask_assistant
    from lineguard.server.auth import PolicyEngine
    from lineguard.server.egress import build_gate
    from lineguard.server.protection import default_audit, default_sealer
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    now = datetime.now(UTC)
    with opened_storage(settings) as sessions:
        with sessions() as session:
            principal = person_named(session, username, now=now)
        audit = default_audit(settings)
        gate = build_gate(settings, sessions=sessions, audit=audit)
        answer = ask_assistant(
            sessions,
            settings=settings,
            engine=PolicyEngine.load(),
            principal=principal,
            question=question,
            workflow=workflow,
            lines=list(lines) or None,
            sealer=default_sealer(settings, sessions),
            audit=audit,
            now=now,
            actor=cli_actor("ask", principal.username),
            rephraser=AssistantState.build(settings, gate=gate).rephraser,
        )
    if as_json:
        data = answer.model_dump(mode="json")
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    click.echo(answer.answer)
    for c in answer.citations:
        where = ", ".join(c.lines) if c.lines else "site"
        click.echo(f"  [{c.n}] {c.record_type} {c.source_key} ({c.category}, {where}) {c.record_id}")
    click.echo(answer.scope)
    if answer.recommendation_id:
        click.echo(f"proposed for review: {answer.recommendation_id}")
