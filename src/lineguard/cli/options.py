"""What every command shares, defined once: the ``--config`` option of each config kind
and the audit actor of a person at the server's command line.

Every server command takes ``--config server.yaml`` as ``config_path`` (required, or
``$LINEGUARD_SERVER_CONFIG``; a few commands where it is optional say what it changes),
every edge command ``--config edge.yaml`` as ``config_path``, every enterprise roll-up
command ``--config enterprise.yaml`` (or ``$LINEGUARD_ENTERPRISE_CONFIG``). Every command that writes
the audit log names its actor with :func:`cli_actor`; every command that opens the
server database does it through ``lineguard.server.storage.open_storage`` (usually via
:func:`lineguard.cli.server_db.server_session` or ``lineguard.server.admin.admin_session``).
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = [
    "EDGE_CONFIG",
    "ENTERPRISE_CONFIG",
    "ENTERPRISE_CONFIG_ENV",
    "SERVER_CONFIG",
    "SERVER_CONFIG_ENV",
    "cli_actor",
    "optional_server_config",
]

F = TypeVar("F", bound=Callable[..., Any])

SERVER_CONFIG_ENV = "LINEGUARD_SERVER_CONFIG"
_CONFIG_FILE = click.Path(path_type=Path, dir_okay=False)

#: ``--config FILE`` naming the server's YAML (kind: server), passed as ``config_path``.
SERVER_CONFIG: Callable[[F], F] = click.option(
    "--config",
    "config_path",
    required=True,
    envvar=SERVER_CONFIG_ENV,
    type=_CONFIG_FILE,
    help=f"The server's server.yaml (or set {SERVER_CONFIG_ENV}).",
)

#: ``--config FILE`` naming an edge node's YAML (kind: edge), passed as ``config_path``.
EDGE_CONFIG: Callable[[F], F] = click.option(
    "--config",
    "config_path",
    required=True,
    type=_CONFIG_FILE,
    help="The node's edge.yaml.",
)


ENTERPRISE_CONFIG_ENV = "LINEGUARD_ENTERPRISE_CONFIG"

#: ``--config FILE`` naming an enterprise roll-up's YAML (kind: enterprise), passed as ``config_path``.
ENTERPRISE_CONFIG: Callable[[F], F] = click.option(
    "--config",
    "config_path",
    required=True,
    envvar=ENTERPRISE_CONFIG_ENV,
    type=_CONFIG_FILE,
    help=f"The roll-up's enterprise.yaml (or set {ENTERPRISE_CONFIG_ENV}).",
)


def optional_server_config(help_text: str) -> Callable[[F], F]:
    """``--config server.yaml`` for a command that also works without it; ``help_text``
    says what giving it changes. Never read from the environment: leaving it out must
    mean leaving it out."""
    return click.option("--config", "config_path", type=_CONFIG_FILE, help=help_text)


def cli_actor(command: str, username: str | None = None) -> str:
    """``cli:<command>.<os user>[:<username>]``: who ran a command, in audit-actor form.

    ``username`` is the LineGuard account a command acts as (``--as``), when it has one.
    """
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):
        os_user = "unknown"
    user = re.sub(r"[^A-Za-z0-9._@+-]", "_", os_user)[:60] or "unknown"
    actor = f"cli:{command}.{user}"
    if username is not None:
        actor += ":" + re.sub(r"[^A-Za-z0-9._@+-]", "_", username)
    return actor[:132]
