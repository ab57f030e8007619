"""An ``httpx.Client`` for talking to the plant server as this node.

The SSL context trusts only the plant CA (the pinned ``ca.crt.pem``, not the system
store), presents the node's certificate chain, requires TLS 1.2 or newer and checks
the server's host name. httpx receives it as ``verify=ctx`` (its ``cert=`` argument is
deprecated).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx

from lineguard.edge.identity.store import IdentityStore

__all__ = ["https_client", "node_ssl_context"]


def node_ssl_context(data_dir: Path, *, with_client_cert: bool = True) -> ssl.SSLContext:
    store = IdentityStore(data_dir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED + check_hostname by default
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(cafile=store.ca_file)
    if with_client_cert:
        ctx.load_cert_chain(store.credentials_file)
    return ctx


def https_client(data_dir: Path, server_url: str | None = None, **kwargs: Any) -> httpx.Client:
    """A client for ``server_url`` (default: the URL the node enrolled with) over mTLS.

    Build a new client after :func:`~lineguard.edge.identity.renew.renew` so the fresh
    certificate is used.
    """
    url = server_url or IdentityStore(data_dir).info().server_url
    kwargs.setdefault("timeout", httpx.Timeout(10.0, connect=5.0))
    return httpx.Client(base_url=url, verify=node_ssl_context(data_dir), **kwargs)
