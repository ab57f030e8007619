"""``lineguard ca``: the plant's own certificate authority."""

from __future__ import annotations

from pathlib import Path

import click

from lineguard.cli.options import SERVER_CONFIG, cli_actor
from lineguard.config import load_server_config

__all__ = ["ca"]


@click.group()
def ca() -> None:
    """Create, inspect and rotate the plant CA that issues server and node certificates.

    init, rotate and retire need the CA passphrase: run them on an issuer host (with
    several replicas, one whose LINEGUARD_PKI_ISSUER is unset or true). show and
    broker-cafile need no passphrase and run anywhere.
    """


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


@ca.command("rotate")
@SERVER_CONFIG
def rotate(config_path: Path) -> None:
    """Start a CA rotation: a new plant CA issues, the current one stays trusted beside it.

    The new key is encrypted with the same passphrase (pki.ca_passphrase). Running
    server processes (every replica and worker) follow within seconds, no restart: they
    trust both CAs (trust.pem), issue node and replica certificates from the new one,
    and keep serving the old server certificate, so nodes that pinned the old CA keep
    connecting. Nodes move to the new CA when they renew: at once, since the server
    tells each on its next request (or `lineguard edge renew`); then `lineguard ca retire`.

    \b
    Example:
      lineguard ca rotate --config /etc/lineguard/server.yaml
      new plant CA sha256 9c1e...; previous 3f2a... trusted until `lineguard ca retire`
    """
    from lineguard.contracts.audit import CaRotated
    from lineguard.server.admin import admin_session, rotate_ca

    settings = load_server_config(config_path)
    with admin_session(settings, actor=cli_actor("ca")) as admin:
        done = rotate_ca(settings)
        event = CaRotated(
            fingerprint_sha256=done.current_fingerprint, previous_fingerprint_sha256=done.previous_fingerprint
        )
        admin.audit(admin.session, event, actor=admin.actor)
        admin.session.commit()
    click.echo(
        f"new plant CA sha256 {done.current_fingerprint}; previous {done.previous_fingerprint} "
        "trusted until `lineguard ca retire`"
    )
    click.echo("running server processes follow within seconds (no restart): they trust both CAs now")


@ca.command("retire")
@SERVER_CONFIG
@click.option(
    "--force",
    is_flag=True,
    help="Retire even though some active nodes still hold only a previous-CA certificate "
    "(their certificates are revoked and they must be enrolled again), unused enrollment "
    "tokens pin the previous CA (they need new tokens), or the rotation is under 30 s old.",
)
def retire(config_path: Path, force: bool) -> None:
    """End a CA rotation: the previous plant CA is trusted no more.

    Refused, unless --force, while an active node still holds a certificate of the
    previous CA (it could no longer connect), while an unused enrollment token pins the
    previous CA (its node could not enroll), and in the first 30 s after `ca rotate`
    (replicas are still moving their relay certificates to the new CA). Re-issues the
    server certificate from the new CA; keeps the previous CA's certificate under
    ca/retired/ (to verify what it signed) and deletes its key. Running server
    processes follow within seconds (no restart): new handshakes get the new server
    certificate and old-CA certificates are refused.

    \b
    Example:
      lineguard ca retire --config /etc/lineguard/server.yaml
      retired plant CA sha256 3f2a...; the CA now is 9c1e...
    """
    from lineguard.server.admin import admin_session, retire_ca

    settings = load_server_config(config_path)
    with admin_session(settings, actor=cli_actor("ca")) as admin:
        event = retire_ca(settings, admin.session, force=force)
        admin.audit(admin.session, event, actor=admin.actor)
        admin.session.commit()
    now = event.current_fingerprint_sha256
    click.echo(f"retired plant CA sha256 {event.fingerprint_sha256}; the CA now is {now}")
    if event.stranded_nodes:
        stranded = ", ".join(event.stranded_nodes)
        click.echo(f"{event.certificates_revoked} certificate(s) revoked; enroll again: {stranded}")
    if event.stranded_tokens:
        tokens = ", ".join(event.stranded_tokens)
        click.echo(f"unused enrollment tokens pin the retired CA; make new ones for: {tokens}")
    click.echo("running server processes follow within seconds (no restart): the previous CA is refused")


@ca.command("broker-cafile")
@SERVER_CONFIG
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file the broker's cafile names (replaced whole).",
)
@click.option(
    "--also",
    "also",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Another CA certificate file to keep in the bundle (the CA of the server's broker client "
    "certificate); repeatable.",
)
def broker_cafile(config_path: Path, out_path: Path, also: tuple[Path, ...]) -> None:
    """Write the MQTT broker's cafile: the CAs in --also, then the plant CAs trusted now.

    Run it after `lineguard ca init`, `ca rotate` and `ca retire`, then restart the broker
    (Mosquitto 2.0 reads cafile only at start). No passphrase needed.

    \b
    Example:
      lineguard ca broker-cafile --config /etc/lineguard/server.yaml \\
          --also /etc/mosquitto/ot-ca.pem --out /etc/mosquitto/lineguard-clients.pem
      systemctl restart mosquitto
    """
    from lineguard.server.pki import write_broker_cafile

    settings = load_server_config(config_path)
    subjects = write_broker_cafile(settings.data_dir, out_path, also=also)
    click.echo(f"wrote {len(subjects)} CA certificate(s) to {out_path}: " + "; ".join(subjects))
    click.echo("restart the broker so it reads them (Mosquitto 2.0 does not reload cafile on SIGHUP)")


@ca.command("show")
@SERVER_CONFIG
def show(config_path: Path) -> None:
    """Print the CA certificate's fingerprint and validity (no passphrase needed).

    \b
    Example:
      lineguard ca show --config /etc/lineguard/server.yaml
    """
    from lineguard.contracts.errors import NotFoundError
    from lineguard.server.pki import ca_paths, certificate_fingerprint, read_certificate

    settings = load_server_config(config_path)
    path = ca_paths(settings.data_dir).cert
    if not path.exists():
        msg = f"no plant CA at {path}: run `lineguard ca init --config {config_path}`"
        raise NotFoundError(msg)
    cert = read_certificate(path, "CA")
    click.echo(f"subject: {cert.subject.rfc4514_string()}")
    click.echo(f"sha256:  {certificate_fingerprint(cert)}")
    click.echo(f"valid:   {cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}")
    paths = ca_paths(settings.data_dir)
    if paths.previous_cert.exists():
        previous = read_certificate(paths.previous_cert, "previous CA")
        click.echo(
            f"rotation overlapping: previous CA sha256 {certificate_fingerprint(previous)} still trusted"
        )
    for retired in sorted(paths.retired.glob("*.crt.pem")):
        click.echo(f"retired: sha256 {retired.name.removesuffix('.crt.pem')}")
