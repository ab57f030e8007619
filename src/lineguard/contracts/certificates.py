"""What the plant server tells a node about its certificate, in the answer to any request.

During a plant CA rotation a node still on the previous CA's certificate would renew only
at two thirds of its certificate's life; the server adds :data:`RENEW_CERTIFICATE_HEADER`
to every answer to such a node, and the node renews at once
(``lineguard.edge.identity.renew``), so ``lineguard ca retire`` can follow within minutes.
"""

from __future__ import annotations

from typing import Final

__all__ = ["RENEW_CERTIFICATE_HEADER", "RENEW_FOR_CA_ROTATION"]

#: Response header (lower case, as ASGI sends it): renew your client certificate now.
RENEW_CERTIFICATE_HEADER: Final = "lineguard-renew-certificate"
#: Its value while the certificate is from a CA that no longer issues (a rotation overlaps).
RENEW_FOR_CA_ROTATION: Final = "ca-rotation"
