"""The server's data-key store: wrapped DEKs in the main database, beside the records they protect.

``open_envelope(settings, sessions)`` gives the server's envelope encryption: the
configured keyring (file or PKCS#11) over :class:`SqlDataKeyStore`.
"""

from lineguard.server.keystore.envelope import open_envelope, open_keyring, signer_key_store_path
from lineguard.server.keystore.staged import StagedKeyRows, staged_sealer
from lineguard.server.keystore.store import SqlDataKeyStore

__all__ = [
    "SqlDataKeyStore",
    "StagedKeyRows",
    "open_envelope",
    "open_keyring",
    "signer_key_store_path",
    "staged_sealer",
]
