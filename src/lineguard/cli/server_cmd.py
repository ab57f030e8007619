"""``lineguard server``: run the plant server over HTTPS (mTLS for edge nodes)."""

from __future__ import annotations

from pathlib import Path

import click

from lineguard.cli.options import SERVER_CONFIG
from lineguard.config import load_server_config

__all__ = ["server"]


@click.command()
@SERVER_CONFIG
@click.option(
    "--fix-permissions",
    is_flag=True,
    help="Narrow data-directory modes wider than private (0700 directories, 0600 files) instead of refusing.",
)
def server(config_path: Path, fix_permissions: bool) -> None:
    """Run the plant server: HTTPS only, TLS 1.2+ (1.3 by config), nodes by client certificate.

    Needs the plant CA (`lineguard ca init`) and the CA and keyring passphrases in the
    environment or secrets files the config names. Migrations run at start-up. The
    data directory must be private (0700 directories, 0600 files): the server refuses
    to start otherwise, naming each path, or narrows them with --fix-permissions.

    With several replicas only the issuer hosts hold the CA passphrase: a host with
    LINEGUARD_PKI_ISSUER=false starts without it (and refuses to start when given it),
    and has enrollments, renewals and its relay certificate signed by the issuer.

    \b
    Example:
      export LINEGUARD_CA_PASSPHRASE=... LINEGUARD_KEYRING_PASSPHRASE=...
      lineguard server --config /etc/lineguard/server.yaml
      # API description (OpenAPI): https://<host>:8443/api/v1/openapi.json
      # another replica host, without the CA key:
      LINEGUARD_PKI_ISSUER=false LINEGUARD_KEYRING_PASSPHRASE=... lineguard server --config ...
    """
    from lineguard.server.admin import run_server

    run_server(load_server_config(config_path), fix_permissions=fix_permissions)
