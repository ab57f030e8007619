"""Which server hosts may sign with the plant CA: the issuer role.

Three things sign with the plant CA key: node enrollment and renewal, each process's
relay certificate and the server's TLS certificate. Every replica used to decrypt the
key at start, so ``LINEGUARD_CA_PASSPHRASE`` sat on every replica host and a host broken
into could mint certificates until the CA was rotated. Now a host is an *issuer* or not,
set per host in the environment (every replica shares one ``server.yaml``):

* ``LINEGUARD_PKI_ISSUER`` unset, ``true``, ``1`` or ``yes``: an issuer (a single server
  is one, as before). It needs the CA passphrase and decrypts the key.
* ``false``, ``0`` or ``no``: a non-issuer. It starts without the passphrase and never
  opens ``ca.key.pem``: it reads only the CA certificates (what it verifies peers and
  nodes against, and hands to nodes). Enrollments and renewals that reach it are
  forwarded to the issuer that leads (``server/nodes/forward.py``); its relay certificate
  is signed by that issuer on request (``server/evidence_views/relay_certs.py``).

A non-issuer host that is *given* the passphrase refuses to start
(:func:`check_passphrase_absent`). Ignoring it would leave a host the operator believes
cannot sign holding everything it needs to (``lineguard ca …`` on that host would decrypt
the key), which is exactly the exposure the role removes; a warning would scroll by. The
fix is one line on that host, and the error names it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from lineguard.config.secrets import SecretRef
from lineguard.contracts.errors import ConfigError, InputError, SecretError

__all__ = ["ISSUER_ENV", "ISSUER_LEADERSHIP", "check_passphrase_absent", "is_issuer"]

ISSUER_ENV = "LINEGUARD_PKI_ISSUER"
#: The advisory lock (``storage.Leadership``) the issuer that signs for the others holds.
ISSUER_LEADERSHIP = "ca-issuer"

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def is_issuer(environ: Mapping[str, str] | None = None) -> bool:
    """This host's role from :data:`ISSUER_ENV` (unset or empty: an issuer, as a single server is)."""
    env = os.environ if environ is None else environ
    value = env.get(ISSUER_ENV, "").strip().lower()
    if not value or value in _TRUE:
        return True
    if value in _FALSE:
        return False
    msg = f"{ISSUER_ENV} is {value[:40]!r}: expected true, false, 1, 0, yes or no"
    raise InputError(msg)


def check_passphrase_absent(passphrase: SecretRef) -> None:
    """Refuse a non-issuer host that holds the CA passphrase (:class:`ConfigError` naming where)."""
    try:
        passphrase.resolve(allow_demo=True)
    except SecretError:
        return  # absent, unreadable or empty: as it must be on a non-issuer host
    msg = (
        f"this host is not a CA issuer ({ISSUER_ENV}=false) but the plant CA passphrase is present "
        f"({passphrase.describe()}): remove it from this host, or set {ISSUER_ENV}=true to make it "
        "an issuer. A non-issuer never opens the CA key; the passphrase belongs on issuer hosts only"
    )
    raise ConfigError(msg)
