"""``lineguard audit``: export the tamper-evident log, verify it, sign a checkpoint now.

Verification needs only the published public key: an auditor verifies an export on
their own machine with ``lineguard audit verify FILE --public-key audit.pub.pem``.
Exports kept elsewhere double as trust anchors (``--checkpoints``): a later log that
was cut short no longer reaches the checkpoints they hold.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from lineguard.cli.options import SERVER_CONFIG, cli_actor, optional_server_config
from lineguard.config import load_server_config
from lineguard.contracts.errors import InputError

__all__ = ["audit"]


@click.group()
def audit() -> None:
    """Export and verify the tamper-evident audit log."""


@audit.command("export")
@SERVER_CONFIG
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path, dir_okay=False))
def export(config_path: Path, out_path: Path) -> None:
    """Sign a checkpoint over the whole log, then write it as JSON lines (entries + checkpoints).

    \b
    Example:
      lineguard audit export --config server.yaml --out audit-2026-11-22.jsonl
      wrote 48211 entries to audit-2026-11-22.jsonl (signed through seq 48211)
    """
    from lineguard.contracts.audit import AuditExported
    from lineguard.server.audit import create_checkpoint, open_audit_key, record, write_export
    from lineguard.server.keystore import open_keyring
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    signer = open_audit_key(settings, lambda: open_keyring(settings))
    with opened_storage(settings) as sessions:
        with sessions.begin() as session:
            create_checkpoint(session, signer, site_id=settings.site_id)
        tmp = out_path.with_name(out_path.name + ".partial")
        with sessions() as session, tmp.open("w", encoding="utf-8") as out:
            count, last_cp = write_export(session, out, site_id=settings.site_id, key_id=signer.key_id)
        tmp.replace(out_path)
        with sessions.begin() as session:
            record(
                session, AuditExported(through_seq=last_cp, checkpoint_seq=last_cp), actor=cli_actor("audit")
            )
    click.echo(f"wrote {count} entries to {out_path} (signed through seq {last_cp})")


@audit.command("verify")
@click.argument("file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@optional_server_config("The server's server.yaml.")
@click.option(
    "--public-key",
    "public_key_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The published audit public key (PEM). Default with --config: data_dir/audit/signing-key.pub.pem.",
)
@click.option(
    "--checkpoints",
    "anchors",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Earlier exports kept elsewhere; their signed checkpoints must still hold. Repeatable.",
)
def verify(
    file: Path | None, config_path: Path | None, public_key_path: Path | None, anchors: tuple[Path, ...]
) -> None:
    """Verify an exported log FILE, or the live database with --config.

    Checks every signature, every hash link and every Merkle root; reports the first
    broken entry with what was expected and what was found, and exits non-zero.

    \b
    Example:
      lineguard audit verify audit.jsonl --public-key audit.pub.pem --checkpoints last-month.jsonl
      ok: 48211 entries (seq 1-48211), 161 signed checkpoints, last at seq 48211
      lineguard audit verify --config server.yaml
    """
    from lineguard.server.audit import (
        DatabaseLog,
        Ed25519Verifier,
        ExportedLog,
        load_public_key,
        read_checkpoints,
    )

    if (file is None) == (config_path is None):
        msg = "give an exported FILE, or --config to verify the live database (not both)"
        raise InputError(msg)
    settings = load_server_config(config_path) if config_path else None
    if public_key_path is None:
        if settings is None:
            msg = "--public-key is required to verify an export (the key is never taken from the file itself)"
            raise InputError(msg)
        public_key_path = settings.data_dir / "audit" / "signing-key.pub.pem"
    try:
        pem = public_key_path.read_bytes()
    except OSError as exc:
        msg = f"cannot read public key {public_key_path} ({exc.strerror})"
        raise InputError(msg) from None
    verifier = Ed25519Verifier(load_public_key(pem, source=str(public_key_path)))
    trusted = [cp for path in anchors for cp in read_checkpoints(path)]
    started = time.perf_counter()
    if file is not None:
        report = verifier.verify(ExportedLog(file), trusted_checkpoints=trusted)
    else:
        from lineguard.server.storage import opened_storage

        assert settings is not None  # noqa: S101 - config_path given
        with opened_storage(settings, migrate=False) as sessions, sessions() as session:
            log = DatabaseLog(session, site_id=settings.site_id)
            report = verifier.verify(log, trusted_checkpoints=trusted)
    elapsed = time.perf_counter() - started
    click.echo(
        f"ok: {report.entries} entries (seq {report.first_seq}-{report.last_seq}), "
        f"{report.checkpoints} signed checkpoints, last at seq {report.last_checkpoint_seq} "
        f"[{report.entries / max(elapsed, 1e-9):,.0f} entries/s]"
    )
    if report.unanchored:
        click.secho(
            f"note: the last {report.unanchored} entries come after the last signed checkpoint; "
            "a cut there would not be detected until the next one",
            fg="yellow",
        )


@audit.command("checkpoint")
@SERVER_CONFIG
def checkpoint(config_path: Path) -> None:
    """Sign a checkpoint over the log now (the server also does so every few minutes).

    \b
    Example:
      lineguard audit checkpoint --config server.yaml
      signed checkpoint at seq 48211
    """
    from lineguard.server.audit import create_checkpoint, open_audit_key
    from lineguard.server.keystore import open_keyring
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    signer = open_audit_key(settings, lambda: open_keyring(settings))
    with opened_storage(settings) as sessions, sessions.begin() as session:
        row = create_checkpoint(session, signer, site_id=settings.site_id)
        seq = None if row is None else row.seq
    click.echo("nothing new since the last checkpoint" if seq is None else f"signed checkpoint at seq {seq}")


@audit.command("public-key")
@SERVER_CONFIG
def public_key(config_path: Path) -> None:
    """Print the audit public key (PEM) to hand to auditors and the SIEM.

    \b
    Example:
      lineguard audit public-key --config server.yaml > audit.pub.pem
    """
    from lineguard.server.audit import open_audit_key, public_key_pem
    from lineguard.server.keystore import open_keyring

    settings = load_server_config(config_path)
    signer = open_audit_key(settings, lambda: open_keyring(settings))
    click.echo(public_key_pem(signer.public).decode("ascii"), nl=False)


@audit.command("forward")
@SERVER_CONFIG
@click.option(
    "--syslog",
    "target_url",
    required=True,
    help="udp://host:514, tcp://host:601 or tls://host:6514 (RFC 5425) of the SIEM; "
    "it must be in the egress allowlist of server.yaml (syslog+udp / syslog+tcp / syslog+tls).",
)
@click.option("--follow", is_flag=True, help="Keep running, forwarding new entries every --interval-s.")
@click.option("--interval-s", default=5.0, show_default=True, type=click.FloatRange(0.1, 3600))
def forward(config_path: Path, target_url: str, follow: bool, interval_s: float) -> None:
    """Send audit entries not yet forwarded to a SIEM over syslog (RFC 5424, JSON body).

    \b
    Example:
      lineguard audit forward --config server.yaml --syslog tls://siem.plant.local:6514 --follow
    """
    import socket

    from lineguard.server.audit import AuditRecorder, SyslogTarget, forward_new_entries
    from lineguard.server.egress import build_gate
    from lineguard.server.storage import open_storage

    settings = load_server_config(config_path)
    engine, sessions = open_storage(settings, migrate=False)
    target = SyslogTarget(target_url, build_gate(settings, sessions=sessions, audit=AuditRecorder()))
    state = settings.data_dir / "audit" / "forwarded.seq"
    try:
        while True:
            with sessions() as session:
                sent = forward_new_entries(session, target, state_path=state, hostname=socket.gethostname())
            if sent or not follow:
                click.echo(f"forwarded {sent} entries to {target_url}")
            if not follow:
                return
            time.sleep(interval_s)
    finally:
        engine.dispose()
