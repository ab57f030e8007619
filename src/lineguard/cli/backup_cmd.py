"""``lineguard backup``: create, verify and restore encrypted backups of the plant server.

The archive is encrypted under a key derived from the *backup passphrase* (an
environment variable, ``LINEGUARD_BACKUP_PASSPHRASE`` by default, or a secrets file),
so it can be restored on new hardware after the old disks are gone.
"""

from __future__ import annotations

from pathlib import Path

import click
from pydantic import SecretStr

from lineguard.cli.options import SERVER_CONFIG, cli_actor
from lineguard.config import SecretRef, load_server_config

__all__ = ["backup"]

PASSPHRASE_ENV = click.option(
    "--passphrase-env",
    default="LINEGUARD_BACKUP_PASSPHRASE",
    show_default=True,
    metavar="VAR",
    help="Environment variable holding the backup passphrase.",
)
PASSPHRASE_FILE = click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File holding the backup passphrase (instead of the environment variable).",
)


def _passphrase(env: str, file: Path | None) -> SecretStr:
    return (SecretRef(file=file) if file else SecretRef(env=env)).resolve()


@click.group()
def backup() -> None:
    """Encrypted, verifiable backups of the server database and data files."""


@backup.command("create")
@SERVER_CONFIG
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path, dir_okay=False))
@PASSPHRASE_ENV
@PASSPHRASE_FILE
def create(config_path: Path, out_path: Path, passphrase_env: str, passphrase_file: Path | None) -> None:
    """Write an encrypted archive of every table and the data files that matter.

    The server may keep running: tables are read in one consistent snapshot.

    \b
    Example:
      export LINEGUARD_BACKUP_PASSPHRASE="$(cat /etc/lineguard/backup-pass)"
      lineguard backup create --config server.yaml --out /mnt/backup/plant-a-2026-11-22.lgbackup
      backup bak_0193… written: 12 tables, 4210331 rows, 9 files, sha256 3f2a…
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from lineguard.contracts.audit import BackupCreated
    from lineguard.server.audit import record
    from lineguard.server.backup import create_backup
    from lineguard.server.storage import open_storage

    settings = load_server_config(config_path)
    passphrase = _passphrase(passphrase_env, passphrase_file)
    engine, sessions = open_storage(settings)
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True) as progress:
            task = progress.add_task("backing up", total=None)
            report = create_backup(
                settings,
                engine,
                sessions,
                out_path,
                passphrase,
                progress=lambda what: progress.update(task, description=f"backing up {what}"),
            )
        with sessions.begin() as session:
            record(
                session,
                BackupCreated(
                    backup_id=report.backup_id,
                    sha256=report.sha256,
                    tables=report.tables,
                    rows=report.rows,
                    files=report.files,
                ),
                actor=cli_actor("backup"),
            )
    finally:
        engine.dispose()
    click.echo(
        f"backup {report.backup_id} written: {report.tables} tables, {report.rows} rows, "
        f"{report.files} files, "
        f"sha256 {report.sha256}"
    )


@backup.command("verify")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@PASSPHRASE_ENV
@PASSPHRASE_FILE
def verify(file: Path, passphrase_env: str, passphrase_file: Path | None) -> None:
    """Check FILE completely (every byte authenticated, every member hashed) without restoring.

    \b
    Example:
      lineguard backup verify /mnt/backup/plant-a-2026-11-22.lgbackup
      ok: backup bak_0193… of plant-a from 2026-11-22T02:00:00Z, 12 tables, 4210331 rows, 9 files
    """
    from lineguard.server.backup import verify_backup

    manifest = verify_backup(file, _passphrase(passphrase_env, passphrase_file))
    click.echo(
        f"ok: backup {manifest.backup_id} of {manifest.site_id} from {manifest.created_at}, "
        f"{len(manifest.tables)} tables, {sum(manifest.tables.values())} rows, {len(manifest.files)} files"
    )


@backup.command("restore")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@SERVER_CONFIG
@PASSPHRASE_ENV
@PASSPHRASE_FILE
def restore(file: Path, config_path: Path, passphrase_env: str, passphrase_file: Path | None) -> None:
    """Restore FILE into the (empty) database and data_dir that the config names.

    The archive is verified in full first; a damaged or tampered archive, a wrong
    passphrase or a database that is not empty stops the restore before anything is
    written.

    \b
    Example:
      lineguard backup restore /mnt/backup/plant-a-2026-11-22.lgbackup --config server.yaml
      restored backup bak_0193…: 4210331 rows, 9 files; start the server
    """
    from lineguard.contracts.audit import BackupRestored
    from lineguard.server.audit import record
    from lineguard.server.backup import restore_backup
    from lineguard.server.storage import open_storage

    settings = load_server_config(config_path)
    passphrase = _passphrase(passphrase_env, passphrase_file)
    engine, sessions = open_storage(settings)
    try:
        manifest = restore_backup(settings, engine, sessions, file, passphrase)
        rows = sum(manifest.tables.values())
        with sessions.begin() as session:
            record(
                session, BackupRestored(backup_id=manifest.backup_id, rows=rows), actor=cli_actor("backup")
            )
    finally:
        engine.dispose()
    click.echo(
        f"restored backup {manifest.backup_id}: {rows} rows, {len(manifest.files)} files; start the server"
    )
