"""What the plant server tells a node about its certificate, in the answer to any request.

During a plant CA rotation a node still on the previous CA's certificate would renew only
at two thirds of its certificate's life; the server adds :data:`RENEW_CERTIFICATE_HEADER`
to every answer to such a node, and the node renews at once
(``lineguard.edge.identity.renew``), so ``lineguard ca retire`` can follow within minutes.
"""

from __future__ import annotations

from typing import ClassVar, Final

from lineguard.contracts.errors import LineGuardError

__all__ = ["RENEW_CERTIFICATE_HEADER", "RENEW_FOR_CA_ROTATION", "IssuerUnavailableError"]

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
