"""Backup and restore: an encrypted, authenticated, verifiable archive of the database and data files."""

from lineguard.server.backup.service import (
    BackupReport,
    Manifest,
    create_backup,
    restore_backup,
    verify_backup,
)

__all__ = ["BackupReport", "Manifest", "create_backup", "restore_backup", "verify_backup"]
