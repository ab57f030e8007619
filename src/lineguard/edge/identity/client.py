"""An ``httpx.Client`` for talking to the plant server as this node.

The SSL context trusts only the plant CA (the pinned ``ca.crt.pem``, not the system
store), presents the node's certificate chain, requires TLS 1.2 or newer and checks
the server's host name. httpx receives it as ``verify=ctx`` (its ``cert=`` argument is
deprecated). Every answer is checked for the server's renew-now header
(:data:`~lineguard.contracts.certificates.RENEW_CERTIFICATE_HEADER`), noted in the identity
store for :class:`~lineguard.edge.identity.worker.RenewalWorker`.
"""

from __future__ import annotations

import logging
import ssl
import threading
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from lineguard.contracts.certificates import RENEW_CERTIFICATE_HEADER
from lineguard.crypto import FilesSignature, files_signature
from lineguard.edge.identity.store import IdentityStore

log = logging.getLogger(__name__)

__all__ = ["FollowingTransport", "https_client", "node_ssl_context"]


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

    It follows a renewal by itself (:class:`FollowingTransport`): every worker's
    long-lived client presents the renewed certificate from its next request on.
    """
    store = IdentityStore(data_dir)
    url = server_url or store.info().server_url
    kwargs.setdefault("timeout", httpx.Timeout(10.0, connect=5.0))
    hooks = dict(kwargs.pop("event_hooks", None) or {})
    hooks["response"] = [*hooks.get("response", []), partial(_note_renewal_request, store)]
    return httpx.Client(base_url=url, transport=FollowingTransport(data_dir), event_hooks=hooks, **kwargs)


class FollowingTransport(httpx.BaseTransport):
    """The node's mTLS transport, rebuilt when ``node.pem`` or ``ca.crt.pem`` is replaced.

    After a renewal the server retires the previous certificate as soon as any request
    presents the renewed one, so a client that kept presenting it would be refused (401)
    until the node restarted.
    One ``stat`` per file per request; connections of the replaced transport finish
    what they carry and are closed with the client.
    """

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._store = IdentityStore(data_dir)
        self._lock = threading.Lock()
        self._retired: list[httpx.HTTPTransport] = []
        self._seen = self._version()
        self._inner = httpx.HTTPTransport(verify=node_ssl_context(data_dir))

    def _version(self) -> FilesSignature:
        return files_signature(self._store.credentials_file, self._store.ca_file)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        seen = self._version()
        if seen != self._seen:
            with self._lock:
                if seen != self._seen:
                    try:
                        fresh = httpx.HTTPTransport(verify=node_ssl_context(self._data_dir))
                    except (OSError, ValueError) as exc:  # ssl.SSLError too: keep the current one, look again
                        log.warning("node credentials changed but cannot be loaded yet: %s", exc)
                        return self._inner.handle_request(request)
                    self._retired.append(self._inner)
                    self._inner, self._seen = fresh, seen
                    log.info("node credentials changed: new connections present the renewed certificate")
        return self._inner.handle_request(request)

    def close(self) -> None:
        with self._lock:
            for transport in (*self._retired, self._inner):
                transport.close()
            self._retired.clear()


def _note_renewal_request(store: IdentityStore, response: httpx.Response) -> None:
    """The server's renew-now header (a plant CA rotation overlaps): the renewal worker acts on it.

    A note that cannot be written (the node's disk full) is logged, never raised: this hook
    runs inside every request, and an error here would fail a request the server has
    already answered (the outbox would resend each batch and never see it acknowledged).
    The header comes again on the next answer; until a note is written the certificate
    is renewed at 2/3 of its life.
    """
    reason = response.headers.get(RENEW_CERTIFICATE_HEADER)
    if not reason or store.renewal_requested:
        return
    log.warning("the server asks this node to renew its certificate now (%s)", reason[:64])
    try:
        store.request_renewal(reason)
    except OSError as exc:
        log.error("cannot note the server's request to renew now (%s); asked again on its next answer", exc)  # noqa: TRY400
