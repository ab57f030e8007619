"""The server's data-key store: wrapped DEKs in the main database, beside the records they protect.

``open_envelope(settings, sessions)`` gives the server's envelope encryption: the
configured keyring (file or PKCS#11) over :class:`SqlDataKeyStore`.
"""

from lineguard.server.keystore.envelope import (
    all_data_key_stores,
    open_envelope,
    open_keyring,
    open_storage,
    signer_key_store_path,
)
from lineguard.server.keystore.store import SqlDataKeyStore

__all__ = [
    "SqlDataKeyStore",
    "all_data_key_stores",
    "open_envelope",
    "open_keyring",
    "open_storage",
    "signer_key_store_path",
]
