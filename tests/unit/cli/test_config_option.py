"""Every command declares ``--config`` the one shared way (``lineguard.cli.options``).

A command that spelled it by hand drifted before: another parameter name, no environment
variable, a different help text. This walks the whole command tree, so a new command is
checked the day it is added.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import click

from lineguard.cli.main import cli
from lineguard.cli.options import ENTERPRISE_CONFIG_ENV, SERVER_CONFIG_ENV


def _commands(group: click.Command, path: str = "lineguard") -> Iterator[tuple[str, click.Command]]:
    yield path, group
    if isinstance(group, click.Group):  # lazily loaded groups list their commands on request
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, f"{path} {name}"
            yield from _commands(command, f"{path} {name}")


def test_every_config_option_is_the_shared_one() -> None:
    seen = 0
    for path, command in _commands(cli):
        for param in command.params:
            if "--config" not in getattr(param, "opts", ()):
                continue
            seen += 1
            assert param.name == "config_path", f"{path}: --config must arrive as config_path"
            assert command.callback is not None
            parameters = inspect.signature(command.callback).parameters
            takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
            assert takes_all or "config_path" in parameters, path
            if param.required:  # server and roll-up commands may also read it from the environment
                help_text = getattr(param, "help", "") or ""
                assert "edge.yaml" in help_text or param.envvar in {
                    SERVER_CONFIG_ENV,
                    ENTERPRISE_CONFIG_ENV,
                }, path
    assert seen >= 30  # the walk really reached the commands
