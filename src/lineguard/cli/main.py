"""Entry point of the ``lineguard`` command.

Subcommands are imported only when invoked, so ``lineguard edge ...`` never imports the
server stack and ``--help`` stays fast. A subcommand is listed only once its module
exists: commands land with the capability behind them.

Errors are turned into one line and a non-zero exit here, and only here: a
:class:`~lineguard.contracts.errors.LineGuardError` prints ``error: <message>`` (plus
one indented line per detail) and exits 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any

import click

from lineguard import __version__
from lineguard.contracts.errors import LineGuardError

__all__ = ["COMMANDS", "LazyGroup", "cli", "main"]

#: name → (module, attribute). Each module owns one capability's commands.
COMMANDS: dict[str, tuple[str, str]] = {
    "config": ("lineguard.cli.config_cmd", "config"),
    "contracts": ("lineguard.cli.contracts_cmd", "contracts"),
    "demo": ("lineguard.cli.demo_cmd", "demo"),
    "model": ("lineguard.cli.model_cmd", "model"),
    "gauge": ("lineguard.cli.gauge_cmd", "gauge"),
    "server": ("lineguard.cli.server_cmd", "server"),
    "ca": ("lineguard.cli.ca_cmd", "ca"),
    "node": ("lineguard.cli.node_cmd", "node"),
    "registry": ("lineguard.cli.registry_cmd", "registry"),
    "replicas": ("lineguard.cli.replicas_cmd", "replicas"),
    "edge": ("lineguard.cli.edge_cmd", "edge"),
    "keys": ("lineguard.cli.keys_cmd", "keys"),
    "backup": ("lineguard.cli.backup_cmd", "backup"),
    "retention": ("lineguard.cli.retention_cmd", "retention"),
    "user": ("lineguard.cli.user_cmd", "user"),
    "audit": ("lineguard.cli.audit_cmd", "audit"),
    "doctor": ("lineguard.cli.doctor_cmd", "doctor"),
    "access-review": ("lineguard.cli.access_review_cmd", "access_review"),
    "governance": ("lineguard.cli.governance_cmd", "governance"),
    "integrations": ("lineguard.cli.integrations_cmd", "integrations"),
    "data": ("lineguard.cli.data_cmd", "data"),
    "ask": ("lineguard.cli.ask_cmd", "ask"),
    "enterprise": ("lineguard.cli.enterprise_cmd", "enterprise"),
}

EXIT_USER_ERROR = 2


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use.

    ``lazy_commands`` maps a subcommand name to ``(module, attribute)``; a name whose
    module does not exist is not listed.
    """

    def __init__(self, *args: Any, lazy_commands: dict[str, tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands if lazy_commands is not None else COMMANDS

    def list_commands(self, ctx: click.Context) -> list[str]:
        present = [n for n, (module, _) in self.lazy_commands.items() if importlib.util.find_spec(module)]
        return sorted([*present, *super().list_commands(ctx)])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_commands.get(cmd_name)
        if target is None or importlib.util.find_spec(target[0]) is None:
            return super().get_command(ctx, cmd_name)
        command = getattr(importlib.import_module(target[0]), target[1])
        if not isinstance(command, click.Command):
            msg = f"{target[0]}.{target[1]} is not a click command"
            raise TypeError(msg)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        if ctx.parent is not None:  # only the root turns errors into messages
            return super().invoke(ctx)
        try:
            return super().invoke(ctx)
        except LineGuardError as exc:
            click.secho(f"error: {exc.message}", fg="red", err=True)
            for line in exc.details:
                click.echo(f"  {line}", err=True)
            ctx.exit(EXIT_USER_ERROR)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lineguard")
def cli() -> None:
    """LineGuard: edge-first visual inspection with security and privacy designed in.

    \b
    Try it:
      lineguard demo                      # server + edge node + synthetic line on loopback
      lineguard config check edge.yaml    # validate a config, every error with its key path
    """


def main(argv: list[str] | None = None) -> None:
    # Everything a LineGuard command creates (data directories, databases, WAL, keys,
    # logs) is private to its user; files meant to be public are chmod-ed explicitly.
    os.umask(0o077)
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="lineguard")
