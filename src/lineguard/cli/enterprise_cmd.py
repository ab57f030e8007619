"""``lineguard enterprise``: the optional enterprise roll-up (aggregates only), both ends.

On the roll-up host: ``init``, ``serve``, ``plant enrol``, ``token create`` / ``list`` / ``revoke``,
``audit verify`` / ``checkpoint`` (all with ``--config enterprise.yaml``). On a plant: ``plant-request``
makes the plant's key and the request the roll-up signs.
"""

from __future__ import annotations

from pathlib import Path

import click

from lineguard.cli.options import ENTERPRISE_CONFIG, cli_actor
from lineguard.contracts.errors import InputError

__all__ = ["enterprise"]


@click.group()
def enterprise() -> None:
    """The enterprise roll-up: line-day counts from many plants, nothing else.

    \b
    Example (roll-up host, then each plant, then the roll-up again):
      lineguard enterprise init --config enterprise.yaml
      lineguard enterprise plant-request --plant-id plant-a --out /etc/lineguard/enterprise   # on the plant
      lineguard enterprise plant enrol --config enterprise.yaml --plant-id plant-a \\
          --csr enterprise.csr.pem --out enterprise.crt.pem
      lineguard enterprise token create --config enterprise.yaml --role quality_viewer --holder "QA lead"
      lineguard enterprise serve --config enterprise.yaml
    """


@enterprise.command("init")
@ENTERPRISE_CONFIG
def init(config_path: Path) -> None:
    """Create the roll-up's CA (passphrase from ca_passphrase), its TLS certificate, its keyring
    and its audit checkpoint key (passphrase from keyring.passphrase; or the HSM's key).

    \b
    Example:
      export LINEGUARD_ENTERPRISE_CA_PASSPHRASE="$(cat /etc/lineguard-enterprise/ca-passphrase)"
      export LINEGUARD_ENTERPRISE_KEYRING_PASSPHRASE="$(cat /etc/lineguard-enterprise/keyring-passphrase)"
      lineguard enterprise init --config enterprise.yaml
    """
    from lineguard.config import load_enterprise_config
    from lineguard.enterprise import (
        init_enterprise_ca,
        open_enterprise_storage,
        open_rollup_audit_key,
        public_key_file,
    )

    config = load_enterprise_config(config_path)
    ca, server_cert = init_enterprise_ca(config)
    open_enterprise_storage(config)
    audit_key = open_rollup_audit_key(config)
    click.echo(f"roll-up CA created: sha256 {ca.fingerprint_sha256}")
    click.echo(f"audit checkpoint key {audit_key.key_id}: public key {public_key_file(config)}")
    click.echo(
        f"server certificate for {', '.join(config.server_names)}: sha256 {server_cert.fingerprint_sha256}"
    )


@enterprise.command("serve")
@ENTERPRISE_CONFIG
def serve(config_path: Path) -> None:
    """Serve the roll-up over HTTPS (plants with their client certificates, people with tokens).

    \b
    Example:
      lineguard enterprise serve --config enterprise.yaml
    """
    from lineguard.config import load_enterprise_config
    from lineguard.enterprise import create_enterprise_app, open_enterprise_storage, service_tls
    from lineguard.server.tls import serve as serve_tls

    config = load_enterprise_config(config_path)
    tls = service_tls(config)
    _engine, sessions = open_enterprise_storage(config)
    serve_tls(
        create_enterprise_app(config, sessions),
        host=config.http.host,
        port=config.http.port,
        cert_file=tls.server_cert,
        key_file=tls.server_key,
        ca_file=tls.cert,
        min_tls_version=config.http.min_tls_version,
    )


@enterprise.command("plant-request")
@click.option(
    "--plant-id", required=True, help="The plant's id (server.yaml: enterprise.plant_id or site_id)."
)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False))
def plant_request_cmd(plant_id: str, out_dir: Path) -> None:
    """On a plant: make its roll-up key (stays here) and the request to send to the roll-up.

    \b
    Example:
      lineguard enterprise plant-request --plant-id plant-a --out /etc/lineguard/enterprise
    """
    from lineguard.enterprise import plant_request

    made = plant_request(out_dir, plant_id=plant_id)
    click.echo(f"key: {made.key_file} (keep it here)\nrequest: {made.csr_file} (send it to the roll-up)")


@enterprise.group("plant")
def plant() -> None:
    """Plants that may report to this roll-up.

    \b
    Example:
      lineguard enterprise plant enrol --config enterprise.yaml --plant-id plant-a \\
          --csr a.csr.pem --out a.crt.pem
    """


@plant.command("enrol")
@ENTERPRISE_CONFIG
@click.option("--plant-id", required=True)
@click.option(
    "--csr", "csr_file", required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True)
)
@click.option("--out", "out_file", required=True, type=click.Path(path_type=Path, dir_okay=False))
def enrol(config_path: Path, plant_id: str, csr_file: Path, out_file: Path) -> None:
    """Sign a plant's request and accept its certificate from now on (replaces an earlier one).

    \b
    Example:
      lineguard enterprise plant enrol --config enterprise.yaml --plant-id plant-a \\
          --csr enterprise.csr.pem --out enterprise.crt.pem
    """
    from lineguard.config import load_enterprise_config
    from lineguard.enterprise import enrol_plant, open_enterprise_storage

    config = load_enterprise_config(config_path)
    _engine, sessions = open_enterprise_storage(config)
    issued = enrol_plant(
        config, sessions, plant_id=plant_id, csr_pem=csr_file.read_bytes(), actor=cli_actor("enterprise")
    )
    out_file.write_text(issued.pem, encoding="ascii")
    click.echo(
        f"plant {plant_id} enrolled: certificate sha256 {issued.fingerprint_sha256} written to {out_file}"
    )


@enterprise.group("token")
def token() -> None:
    """People's API tokens, one role each.

    \b
    Example:
      lineguard enterprise token create --config enterprise.yaml --role auditor --holder "Internal audit"
    """


@token.command("create")
@ENTERPRISE_CONFIG
@click.option("--role", required=True, type=click.Choice(["quality_viewer", "plant_admin", "auditor"]))
@click.option("--holder", required=True, help="Who holds it (shown in the audit log).")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help="Validity in days (default: token_days, 30; at most token_max_days, 90).",
)
def token_create(config_path: Path, role: str, holder: str, days: int | None) -> None:
    """Create a token and print it once (only its digest is stored); it expires after --days.

    \b
    Example:
      lineguard enterprise token create --config enterprise.yaml --role quality_viewer --holder "Group QA"
      lineguard enterprise token create --config enterprise.yaml --role auditor --holder "Audit" --days 7
    """
    from lineguard.config import load_enterprise_config
    from lineguard.enterprise import Role, issue_token, open_enterprise_storage

    config = load_enterprise_config(config_path)
    _engine, sessions = open_enterprise_storage(config)
    issued = issue_token(
        config, sessions, holder=holder, role=Role(role), days=days, actor=cli_actor("enterprise")
    )
    expires = issued.expires_at.isoformat(timespec="seconds")
    click.echo(f"token {issued.token_id} for {holder} ({role}), expires {expires}, shown once:", err=True)
    click.echo(issued.secret)


@token.command("list")
@ENTERPRISE_CONFIG
def token_list(config_path: Path) -> None:
    """Every token's id, holder, role, expiry and state (never the token itself).

    \b
    Example:
      lineguard enterprise token list --config enterprise.yaml
    """
    from lineguard.config import load_enterprise_config
    from lineguard.enterprise import list_tokens, open_enterprise_storage
    from lineguard.server.storage import utcnow

    config = load_enterprise_config(config_path)
    _engine, sessions = open_enterprise_storage(config)
    now = utcnow()
    click.echo("token_id\tholder\trole\texpires_at\tstate")
    with sessions() as session:
        for row in list_tokens(session):
            expires = row.expires_at.isoformat(timespec="seconds") if row.expires_at else "-"
            state = (
                "revoked"
                if row.revoked_at is not None
                else "expired"
                if row.expires_at is None or row.expires_at <= now
                else "active"
            )
            click.echo(f"{row.token_id}\t{row.holder}\t{row.role}\t{expires}\t{state}")


@token.command("revoke")
@ENTERPRISE_CONFIG
@click.option("--token-id", required=True, help="The id printed when the token was created.")
def token_revoke(config_path: Path, token_id: str) -> None:
    """Stop accepting a token at once.

    \b
    Example:
      lineguard enterprise token revoke --config enterprise.yaml --token-id tok_0193…
    """
    from lineguard.config import load_enterprise_config
    from lineguard.contracts.audit import EnterpriseTokenRevoked
    from lineguard.enterprise import open_enterprise_storage, record, revoke_token

    config = load_enterprise_config(config_path)
    _engine, sessions = open_enterprise_storage(config)
    with sessions.begin() as session:
        revoke_token(session, token_id=token_id)
        record(session, EnterpriseTokenRevoked(token_id=token_id), actor=cli_actor("enterprise"))
    click.echo(f"token {token_id} revoked")


@enterprise.group("audit")
def audit() -> None:
    """The roll-up's own audit log.

    \b
    Example:
      lineguard enterprise audit verify --config enterprise.yaml
    """


@audit.command("verify")
@ENTERPRISE_CONFIG
@click.option(
    "--public-key",
    "public_key_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The roll-up's published audit public key (PEM), ideally a copy kept away from its host. "
    "Default: data_dir/audit/signing-key.pub.pem.",
)
def audit_verify(config_path: Path, public_key_path: Path | None) -> None:
    """Verify the roll-up's audit log: every signed checkpoint, hash link and Merkle root.

    Exits non-zero naming the first rewritten entry, a cut tail (a checkpoint covering
    entries no longer there) or a checkpoint whose signature does not verify. A log with
    no signed checkpoint yet is refused (`serve` signs one every few minutes, or run
    `audit checkpoint`).

    \b
    Example:
      lineguard enterprise audit verify --config enterprise.yaml --public-key rollup-audit.pub.pem
      ok: 42 entries (seq 1-42), 3 signed checkpoints, last at seq 40
    """
    from lineguard.config import load_enterprise_config
    from lineguard.enterprise import open_enterprise_storage, public_key_file, verify_log

    config = load_enterprise_config(config_path)
    key_path = public_key_path or public_key_file(config)
    try:
        pem = key_path.read_bytes()
    except OSError as exc:
        msg = f"cannot read the roll-up's audit public key {key_path} ({exc.strerror})"
        raise InputError(msg) from None
    _engine, sessions = open_enterprise_storage(config)
    with sessions() as session:
        report = verify_log(session, pem, source=str(key_path))
    click.echo(
        f"ok: {report.entries} entries (seq {report.first_seq}-{report.last_seq}), "
        f"{report.checkpoints} signed checkpoints, last at seq {report.last_checkpoint_seq}"
    )
    if report.unanchored:
        click.echo(
            f"note: the last {report.unanchored} entries come after the last signed checkpoint; "
            "a cut there would not be detected until the next one"
        )


@audit.command("checkpoint")
@ENTERPRISE_CONFIG
def audit_checkpoint(config_path: Path) -> None:
    """Sign a checkpoint over the roll-up's audit log now (`serve` also does so periodically).

    \b
    Example:
      export LINEGUARD_ENTERPRISE_KEYRING_PASSPHRASE="$(cat /etc/lineguard-enterprise/keyring-passphrase)"
      lineguard enterprise audit checkpoint --config enterprise.yaml
      signed checkpoint at seq 42
    """
    from lineguard.config import load_enterprise_config
    from lineguard.enterprise import checkpoint, open_enterprise_storage, open_rollup_audit_key

    config = load_enterprise_config(config_path)
    signer = open_rollup_audit_key(config)
    _engine, sessions = open_enterprise_storage(config)
    with sessions.begin() as session:
        seq = checkpoint(session, signer)
    click.echo("nothing new since the last checkpoint" if seq is None else f"signed checkpoint at seq {seq}")
