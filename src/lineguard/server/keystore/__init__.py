"""The server's data-key store: wrapped DEKs in the main database, beside the records they protect.

``open_envelope(settings, sessions)`` gives the server's envelope encryption: the
configured keyring (file or PKCS#11) over :class:`SqlDataKeyStore`, with inspection
events' part ids sealed under one key per line and hour (:mod:`.buckets`).
"""

from lineguard.server.keystore.buckets import (
    BUCKETED_CATEGORIES,
    bucket_hour,
    hour_bucket,
    shred_expired_buckets,
)
from lineguard.server.keystore.envelope import open_envelope, open_keyring, signer_key_store_path
from lineguard.server.keystore.staged import StagedKeyRows, staged_sealer
from lineguard.server.keystore.store import SqlDataKeyStore

__all__ = [
    "BUCKETED_CATEGORIES",
    "SqlDataKeyStore",
    "StagedKeyRows",
    "bucket_hour",
    "hour_bucket",
    "open_envelope",
    "open_keyring",
    "shred_expired_buckets",
    "signer_key_store_path",
    "staged_sealer",
]
