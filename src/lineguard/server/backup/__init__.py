"""Backup and restore: an encrypted, authenticated, verifiable archive of the database and data files."""
