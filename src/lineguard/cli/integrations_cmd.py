"""``lineguard integrations``: the CMMS destinations and MQTT broker of a server — list, test, replay.

Run on the server with its environment (the destinations' credentials are resolved as
the server resolves them; none is ever printed). Every connection goes through the
egress gate of ``server.yaml``; every replay is audited.
"""

from __future__ import annotations

from pathlib import Path

import click

from lineguard.cli.options import SERVER_CONFIG, cli_actor
from lineguard.config import load_server_config

__all__ = ["integrations"]


@click.group()
def integrations() -> None:
    """CMMS destinations, the MQTT broker and the work-order delivery queue."""


@integrations.command("list")
@SERVER_CONFIG
def list_destinations(config_path: Path) -> None:
    """Each CMMS destination with its health, queue depth, dead letters and last error.

    \b
    Example:
      lineguard integrations list --config server.yaml
      maintainx  maintainx  https://api.getmaintainx.com/v1/workorders  ok  queued 0  dead 1  delivered 42
    """
    from lineguard.server.integrations import build_connector, overview_destinations
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    connectors = {d.name: build_connector(d) for d in settings.integrations.cmms}
    enabled = frozenset(d.name for d in settings.integrations.cmms if d.enabled)
    with opened_storage(settings) as sessions, sessions() as session:
        views = overview_destinations(session, connectors=connectors, enabled=enabled, dispatcher=None)
    if not views:
        click.echo("no CMMS destinations configured (integrations.cmms in server.yaml)")
    for v in views:
        click.echo(
            f"{v.name}  {v.kind}  {v.target}  {v.health}  queued {v.queued}  dead {v.dead_letters}  "
            f"delivered {v.delivered}" + (f"  last error: {v.last_error}" if v.last_error else "")
        )
    mqtt = settings.integrations.mqtt
    if mqtt is not None:
        click.echo(
            f"mqtt  {mqtt.url}  client {mqtt.client_id}  sparkplug {'on' if mqtt.sparkplug else 'off'}"
        )
    for rule in settings.egress.allow:
        click.echo(f"egress allow  {rule.describe()}" + ("  (pinned CA)" if rule.ca_file else ""))


@integrations.command("test")
@SERVER_CONFIG
@click.argument("names", nargs=-1)
def test_destinations(config_path: Path, names: tuple[str, ...]) -> None:
    """Reach each destination (or the NAMES given) through the egress gate; creates nothing.

    A plain GET without credentials: it proves the allowlist, DNS, the connection and the
    TLS certificate against the pinned CA. Exit status 1 if one is unreachable.

    \b
    Example:
      lineguard integrations test --config server.yaml maintainx
      maintainx  https://api.getmaintainx.com/v1/workorders  reachable (HTTP 401)
    """
    from lineguard.server.audit import AuditRecorder
    from lineguard.server.egress import build_gate
    from lineguard.server.integrations import build_connector, probe
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    chosen = [d for d in settings.integrations.cmms if not names or d.name in names]
    unknown = sorted(set(names) - {d.name for d in chosen})
    if unknown:
        msg = f"no CMMS destination named {', '.join(unknown)}"
        raise click.UsageError(msg)
    with opened_storage(settings) as sessions:
        gate = build_gate(settings, sessions=sessions, audit=AuditRecorder())
        results = [probe(build_connector(d), gate) for d in chosen]
    for r in results:
        outcome = f"reachable (HTTP {r.http_status})" if r.reachable else f"UNREACHABLE: {r.error}"
        click.echo(f"{r.destination}  {r.target}  {outcome}")
    if any(not r.reachable for r in results):
        raise SystemExit(1)


@integrations.command("replay")
@SERVER_CONFIG
@click.option("--destination", default=None, help="Only this destination's dead letters.")
@click.option("--delivery", "delivery_ids", multiple=True, help="Only these deliveries (repeatable).")
def replay(config_path: Path, destination: str | None, delivery_ids: tuple[str, ...]) -> None:
    """Put dead-lettered work orders back in the delivery queue (audited); the server sends them.

    \b
    Example:
      lineguard integrations replay --config server.yaml --destination maintainx
      replayed 3 work orders
    """
    from lineguard.server.audit import AuditRecorder
    from lineguard.server.integrations import replay as replay_dead
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    known = [d.name for d in settings.integrations.cmms]
    with opened_storage(settings) as sessions, sessions.begin() as session:
        count = replay_dead(
            session, audit=AuditRecorder(), actor=cli_actor("integrations"), destination=destination,
            delivery_ids=delivery_ids, known=known,
        )  # fmt: skip
    click.echo(f"replayed {count} work order{'s' if count != 1 else ''}")
