"""Version-1 sealed objects, written exactly as servers and nodes wrote them before v2.

Nothing in ``src`` writes v1 any more, but every reader must open it forever (old
databases, backups, exports, evidence files). Tests build v1 objects here: a fresh
DEK and nonce, the DEK wrapped under the active KEK with the record in its associated
data and stored as a key row, the JSON header as associated data of the body.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lineguard.contracts.ids import new_id
from lineguard.crypto import DataKeyStore, WrappedKey, dek_aad
from lineguard.crypto.kek import KekProvider
from lineguard.crypto.sealed import encode_header

__all__ = ["seal_v1"]


def seal_v1(
    keys: KekProvider, store: DataKeyStore, plaintext: bytes, *, object_id: str, category: str
) -> bytes:
    """``plaintext`` sealed in the v1 format for ``(category, object_id)``; its key row stored."""
    key_id = new_id("dek")
    dek, nonce = os.urandom(32), os.urandom(12)
    kek = keys.active()
    store.put(
        WrappedKey(
            key_id, category, object_id, kek.kek_id, kek.wrap(dek, dek_aad(key_id, category, object_id))
        )
    )
    header = encode_header(key_id, category, object_id)
    return header + nonce + AESGCM(dek).encrypt(nonce, plaintext, header)
