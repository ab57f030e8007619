"""The server's TLS context: TLS 1.2 minimum (1.3 by config), AEAD ciphers with forward
secrecy only, compression and renegotiation off, client certificates verified against
the plant CA when presented."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal

__all__ = ["MODERN_CIPHERS", "server_ssl_context"]

#: TLS 1.2 suites: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305; no CBC, no RSA
#: key transport. TLS 1.3 suites are all AEAD and are left at OpenSSL's defaults.
MODERN_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!SHA1:!DSS"


def server_ssl_context(
    *,
    cert_file: Path,
    key_file: Path,
    ca_file: Path,
    min_version: Literal["1.2", "1.3"] = "1.2",
    require_client_cert: bool = False,
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3 if min_version == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(MODERN_CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.load_cert_chain(cert_file, key_file)
    ctx.load_verify_locations(cafile=ca_file)
    ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
