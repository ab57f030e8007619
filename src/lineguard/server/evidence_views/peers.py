"""The internal relay between server processes: mutual TLS with replica certificates, in memory.

When a node's upload lands on a process that does not own the view, that process checks
it as always and hands the bytes to the owner here; when a person's fetch lands elsewhere,
the owner hands the image back the same way. Nothing is written on either side.

Each process listens on ``http.internal_host:internal_port`` with a certificate of the
replica profile it issued itself at start (:meth:`PlantCa.issue_replica_certificate`,
key in memory only). Both ends require the other's certificate, verified against the
plant CA, and then check its profile (:func:`is_replica_certificate`): a node or plant
certificate of the same CA passes the handshake but is refused with ``forbidden``. The
client also checks the host name against the address the owner registered.

One request per connection, framed as::

    u32 header length · header (JSON, ≤ 4 KiB) · u32 body length · body (≤ 8 MiB)

Requests: ``{"op": "deliver", ...}`` with the JPEG as body; ``{"op": "take", ...}``.
Answers: ``{"ok": true, ...}`` (with the image as body for ``take``) or
``{"ok": false, "code": ..., "message": ...}`` naming the typed error, which the client
raises again. A body over the limit is refused from its announced length, unread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import ssl
import struct
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509

from lineguard.contracts.errors import (
    ContractError,
    ImageDecodeError,
    InputError,
    LineGuardError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
)
from lineguard.contracts.evidence_view import (
    MAX_EVIDENCE_JPEG_BYTES,
    EvidenceRelayError,
    EvidenceViewGoneError,
)
from lineguard.server.pki import ReplicaCredentials, is_replica_certificate
from lineguard.server.tls import MODERN_CIPHERS

__all__ = [
    "MAX_CONNECTIONS",
    "MAX_HEADER_BYTES",
    "TIMEOUT_S",
    "PeerClient",
    "PeerServer",
    "RelayTls",
    "Request",
]

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 4096
#: Relay requests one listener answers at once: with the 8 MiB body limit this bounds the
#: memory incoming hand-offs can take (the images held are bounded by the relay settings).
MAX_CONNECTIONS = 8
#: Connect, read and write limit of one hand-off.
TIMEOUT_S = 10.0
_LENGTH = struct.Struct(">I")

#: Errors an owner may answer with, raised again by the client under the same type.
_KNOWN: dict[str, type[LineGuardError]] = {
    e.code: e
    for e in (
        NotFoundError,
        EvidenceViewGoneError,
        ImageDecodeError,
        InputError,
        PayloadTooLargeError,
        PermissionDeniedError,
        RateLimitedError,
        ContractError,
    )
}


@dataclass(frozen=True)
class Request:
    """One framed request, with the replica id its certificate names."""

    op: str
    header: dict[str, Any]
    body: bytes
    peer_id: str


Handler = Callable[[Request], Awaitable[tuple[dict[str, Any], bytes]]]


class RelayTls:
    """The TLS contexts of one process's relay, from its in-memory replica credentials.

    ``ssl`` loads keys only from files: they are written to a private temporary
    directory (0700, in memory where ``/dev/shm`` exists), loaded, and removed at once.
    :meth:`renew` loads fresh credentials into the same contexts, so the listener and
    the client pick them up at their next handshake (``scheduled.py`` renews once half
    the certificate's lifetime is left, judged by its ``notAfter`` on the wall clock).
    """

    def __init__(self, credentials: ReplicaCredentials, ca_file: Path) -> None:
        self.server = self._context(ssl.PROTOCOL_TLS_SERVER, ca_file)
        self.server.verify_mode = ssl.CERT_REQUIRED
        self.client = self._context(ssl.PROTOCOL_TLS_CLIENT, ca_file)
        self.renew(credentials)

    def renew(self, credentials: ReplicaCredentials) -> None:
        """Present ``credentials`` from the next handshake on (both as listener and as client)."""
        not_after = x509.load_pem_x509_certificate(credentials.cert_pem).not_valid_after_utc
        shm = Path("/dev/shm")  # noqa: S108 - tmpfs, so the key never reaches a disk
        where = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
        with tempfile.TemporaryDirectory(prefix="lineguard-relay-", dir=where) as private:
            cert, key = Path(private) / "replica.crt.pem", Path(private) / "replica.key.pem"
            cert.write_bytes(credentials.cert_pem)
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(credentials.key_pem)
            for ctx in (self.server, self.client):
                ctx.load_cert_chain(cert, key)
        self.not_after = not_after

    def expires_within(self, margin: timedelta, now: datetime | None = None) -> bool:
        """The certificate presented now ends within ``margin`` (wall clock, so a suspended
        or long-running process still renews in time)."""
        return (now or datetime.now(UTC)) >= self.not_after - margin

    @staticmethod
    def _context(protocol: int, ca_file: Path) -> ssl.SSLContext:
        ctx = ssl.SSLContext(protocol)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3  # both ends are ours
        ctx.set_ciphers(MODERN_CIPHERS)
        ctx.options |= ssl.OP_NO_COMPRESSION
        ctx.load_verify_locations(cafile=str(ca_file))
        return ctx


def replica_id_of(der: bytes | None) -> str:
    """The replica id a peer certificate names; :class:`PermissionDeniedError` for any other profile."""
    if not der:
        msg = "the relay needs a replica certificate; the peer presented none"
        raise PermissionDeniedError(msg)
    cert = x509.load_der_x509_certificate(der)
    if not is_replica_certificate(cert):
        subject = cert.subject.rfc4514_string()[:200]
        msg = f"the relay takes only LineGuard replica certificates, got {subject!r}"
        raise PermissionDeniedError(msg)
    return str(cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


def _frame(header: dict[str, Any], body: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return _LENGTH.pack(len(head)) + head + _LENGTH.pack(len(body)) + body


def _header(raw: bytes) -> dict[str, Any]:
    try:
        header = json.loads(raw)
    except ValueError:
        header = None
    if not isinstance(header, dict):
        msg = "relay header is not a JSON object"
        raise ContractError(msg)
    return header


def _check_lengths(head: int, body: int | None = None) -> None:
    if head > MAX_HEADER_BYTES:
        msg = f"relay header of {head} bytes (the limit is {MAX_HEADER_BYTES})"
        raise PayloadTooLargeError(msg)
    if body is not None and body > MAX_EVIDENCE_JPEG_BYTES:
        msg = f"relay body of {body} bytes (the limit is {MAX_EVIDENCE_JPEG_BYTES})"
        raise PayloadTooLargeError(msg)


def _error(exc: LineGuardError) -> dict[str, Any]:
    return {"ok": False, "code": exc.code, "message": exc.message[:1000]}


class PeerServer:
    """This process's relay listener; ``handler`` answers each authenticated request."""

    def __init__(self, tls: RelayTls, handler: Handler, *, max_connections: int = MAX_CONNECTIONS) -> None:
        self._tls = tls
        self._handler = handler
        self._server: asyncio.Server | None = None
        self._max_connections = max_connections
        self._active = 0
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(
            self._serve, host, port, ssl=self._tls.server, ssl_handshake_timeout=TIMEOUT_S
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), TIMEOUT_S)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._active += 1  # one event loop: no lock needed; counted until the answer is written
        try:
            await self._serve_one(reader, writer)
        finally:
            self._active -= 1

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self._active > self._max_connections:  # refused before a byte of the request is read
                msg = f"this server is answering {self._max_connections} relay requests already; try again"
                answer = _frame(_error(RateLimitedError(msg)))
            else:
                answer = await asyncio.wait_for(self._answer(reader, writer), TIMEOUT_S)
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            answer = b""
        try:
            if answer:
                writer.write(answer)
                await asyncio.wait_for(writer.drain(), TIMEOUT_S)
        except (TimeoutError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        ssl_object = writer.get_extra_info("ssl_object")
        try:
            peer_id = replica_id_of(ssl_object.getpeercert(binary_form=True) if ssl_object else None)
            (head,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
            _check_lengths(head)
            header = _header(await reader.readexactly(head))
            (size,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
            _check_lengths(head, size)
            body = await reader.readexactly(size)
            reply, data = await self._handler(Request(str(header.get("op", "")), header, body, peer_id))
        except LineGuardError as exc:
            log.warning("relay request refused: %s", exc.message)
            return _frame(_error(exc))
        return _frame({"ok": True, **reply}, data)


class PeerClient:
    """Blocking hand-offs to another process (called from worker threads)."""

    def __init__(self, tls: RelayTls, *, timeout_s: float = TIMEOUT_S) -> None:
        self._tls = tls
        self._timeout_s = timeout_s

    def call(
        self, host: str, port: int, header: dict[str, Any], body: bytes = b""
    ) -> tuple[dict[str, Any], bytes]:
        """Send one request; the answer's header and body, or the owner's typed error again.

        :class:`EvidenceRelayError` when the peer cannot be reached, is not a replica,
        or answers out of protocol.
        """
        where = f"{host}:{port}"
        try:
            with (
                socket.create_connection((host, port), timeout=self._timeout_s) as raw,
                self._tls.client.wrap_socket(raw, server_hostname=host) as tls,
            ):
                replica_id_of(tls.getpeercert(binary_form=True))
                tls.sendall(_frame(header, body))
                (head,) = _LENGTH.unpack(_read(tls, _LENGTH.size))
                _check_lengths(head)
                answer = _header(_read(tls, head))
                (size,) = _LENGTH.unpack(_read(tls, _LENGTH.size))
                _check_lengths(head, size)
                data = _read(tls, size)
        except (OSError, EOFError) as exc:  # ssl.SSLError is an OSError
            msg = f"the server replica at {where} could not be reached: {exc}"[:500]
            raise EvidenceRelayError(msg) from None
        except LineGuardError as exc:
            msg = f"the server replica at {where} answered out of protocol: {exc.message}"[:500]
            raise EvidenceRelayError(msg) from None
        if answer.get("ok") is True:
            return answer, data
        error = _KNOWN.get(str(answer.get("code")), EvidenceRelayError)
        msg = f"the server replica at {where} refused: {str(answer.get('message', ''))[:400]}"
        raise error(msg)


def _read(tls: ssl.SSLSocket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = tls.recv(min(left, 1 << 20))
        if not chunk:
            msg = f"the connection closed with {left} of {size} bytes unread"
            raise EOFError(msg)
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
