"""The node's first TUF root: fetched once over the CA-pinned mTLS channel, then kept.

Why that is trustworthy: the node reached the server through a TLS session that
authenticated the server with the plant CA, whose sha256 was pinned by the one-time
enrollment token an administrator handed over. After this first root, only roots
signed by the previous root's threshold are accepted (TUF's root chain), so a later
compromise of the channel cannot replace the root. An operator who wants no
trust-on-first-use copies ``1.root.json`` to the node out of band instead.
"""

from __future__ import annotations

import httpx

from lineguard.signing import VerificationError

__all__ = ["ROOT_V1_PATH", "bootstrap_root"]

ROOT_V1_PATH = "/api/v1/registry/tuf/metadata/1.root.json"
_MAX_ROOT_BYTES = 512 * 1024


def bootstrap_root(client: httpx.Client) -> bytes:
    """Version 1 of the registry's root metadata, from the server ``client`` talks to."""
    try:
        response = client.get(ROOT_V1_PATH)
    except httpx.HTTPError as exc:
        msg = f"cannot fetch the registry's initial TUF root: {type(exc).__name__}: {exc}"
        raise VerificationError(msg, check="download") from None
    if response.status_code != 200:
        msg = f"the registry answered HTTP {response.status_code} for its initial TUF root"
        raise VerificationError(msg, check="download")
    if len(response.content) > _MAX_ROOT_BYTES:
        msg = f"the initial TUF root is {len(response.content):,} bytes, more than a root can be"
        raise VerificationError(msg, check="metadata")
    return response.content
