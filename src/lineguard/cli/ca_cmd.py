"""``lineguard ca``: the plant's own certificate authority."""

from __future__ import annotations

from pathlib import Path

import click

from lineguard.cli.options import SERVER_CONFIG, cli_actor
from lineguard.config import load_server_config

__all__ = ["ca"]


@click.group()
def ca() -> None:
    """Create and inspect the plant CA that issues server and node certificates."""


@ca.command("init")
@SERVER_CONFIG
def init(config_path: Path) -> None:
    """Create the plant CA (key encrypted with the CA passphrase) and the server certificate.

    The passphrase comes from the environment variable or secrets file named by
    pki.ca_passphrase (default LINEGUARD_CA_PASSPHRASE), never from the YAML.

    \b
    Example:
      export LINEGUARD_CA_PASSPHRASE="$(cat /etc/lineguard/ca-passphrase)"
      lineguard ca init --config /etc/lineguard/server.yaml
      plant CA created: sha256 3f2a...; server certificate for localhost, 127.0.0.1
    """
    from lineguard.contracts.audit import CaCreated
    from lineguard.server.admin import admin_session, init_ca

    settings = load_server_config(config_path)
    plant_ca, server_cert = init_ca(settings)
    with admin_session(settings, actor=cli_actor("ca")) as admin:
        event = CaCreated(
            fingerprint_sha256=plant_ca.fingerprint_sha256, server_names=list(settings.pki.server_names)
        )
        admin.audit(admin.session, event, actor=admin.actor)
        admin.session.commit()
    click.echo(f"plant CA created in {settings.data_dir / 'ca'}: sha256 {plant_ca.fingerprint_sha256}")
    names = ", ".join(settings.pki.server_names)
    click.echo(f"server certificate for {names}, valid to {server_cert.not_after:%Y-%m-%d}")


@ca.command("show")
@SERVER_CONFIG
def show(config_path: Path) -> None:
    """Print the CA certificate's fingerprint and validity (no passphrase needed).

    \b
    Example:
      lineguard ca show --config /etc/lineguard/server.yaml
    """
    from cryptography import x509

    from lineguard.contracts.errors import NotFoundError
    from lineguard.server.pki import ca_paths, certificate_fingerprint

    settings = load_server_config(config_path)
    path = ca_paths(settings.data_dir).cert
    if not path.exists():
        msg = f"no plant CA at {path}: run `lineguard ca init --config {config_path}`"
        raise NotFoundError(msg)
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    click.echo(f"subject: {cert.subject.rfc4514_string()}")
    click.echo(f"sha256:  {certificate_fingerprint(cert)}")
    click.echo(f"valid:   {cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}")
