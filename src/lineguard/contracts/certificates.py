"""What the plant server tells a node about its certificate, in the answer to any request.

During a plant CA rotation a node still on the previous CA's certificate would renew only
at two thirds of its certificate's life; the server adds :data:`RENEW_CERTIFICATE_HEADER`
to every answer to such a node, and the node renews at once
(``lineguard.edge.identity.renew``), so ``lineguard ca retire`` can follow within minutes.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar, Final

from lineguard.contracts.errors import LineGuardError

__all__ = [
    "RENEWAL_PROOF_CONTEXT",
    "RENEW_CERTIFICATE_HEADER",
    "RENEW_FOR_CA_ROTATION",
    "IssuerUnavailableError",
    "renewal_proof_message",
]

#: Response header (lower case, as ASGI sends it): renew your client certificate now.
RENEW_CERTIFICATE_HEADER: Final = "lineguard-renew-certificate"
#: Its value while the certificate is from a CA that no longer issues (a rotation overlaps).
RENEW_FOR_CA_ROTATION: Final = "ca-rotation"


class IssuerUnavailableError(LineGuardError):
    """No plant CA issuer answered: the certificate was not issued, nothing was used up.

    A replica without the CA key (``LINEGUARD_PKI_ISSUER=false``) forwards enrollments and
    renewals to the issuer replica that leads; when none is reachable the node is told to
    try again (503 with ``Retry-After``): its enrollment token stays unused, its current
    certificate stays valid.
    """

    code: ClassVar[str] = "ca_issuer_unavailable"
    http_status: ClassVar[int] = 503
    #: Seconds the node should wait before asking again (sent as ``Retry-After``).
    retry_after_s: float = 30.0


#: Domain separation: a signature over this message can be nothing but a renewal proof.
RENEWAL_PROOF_CONTEXT: Final = b"lineguard node certificate renewal v1\x00"


def renewal_proof_message(certificate_fingerprint_sha256: str, csr_der: bytes) -> bytes:
    """What a node signs with its *current* key when it asks to renew (the ``proof`` field).

    It binds the certificate the node holds (sha256 of its DER, lower-case hex) to the
    CSR of the key it wants certified (sha256 of the CSR's DER), so the signature proves
    the holder of the current key asked for this very key, to whoever signs, however many
    replicas the request passed through (a forwarding replica terminates the node's TLS
    and could otherwise ask for any key under a certificate it saw). Replaying it gets
    only the certificate for that same CSR's key, which the replayer does not hold.
    """
    return b"".join(
        [
            RENEWAL_PROOF_CONTEXT,
            certificate_fingerprint_sha256.lower().encode("ascii"),
            b"\x00",
            hashlib.sha256(csr_der).hexdigest().encode("ascii"),
        ]
    )
