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

The listener does the TLS handshake itself (``start_tls`` on the accepted connection), so
a refused connection is seen whatever refused it: a failed handshake (no certificate,
another CA, an expired one), a certificate of another profile, or a replica id an operator
revoked (``admit``, checked in PostgreSQL on every connection). Each is told to
``refused`` (source address, reason, what was presented), which counts them for the audit
log (:mod:`.refusals`); nothing is written on the accept path.

Requests: ``{"op": "deliver", ...}`` with the JPEG as body; ``{"op": "take", ...}``;
``{"op": "pki.enroll"}`` / ``{"op": "pki.renew"}`` with a forwarded node request as body,
answered by an issuer with the certificate (``server/nodes/forward.py``).
Answers: ``{"ok": true, ...}`` (with the image as body for ``take``) or
``{"ok": false, "code": ..., "message": ...}`` naming the typed error, which the client
raises again. A body over the limit is refused from its announced length, unread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import socket
import ssl
import struct
import tempfile
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509

from lineguard.contracts.certificates import IssuerUnavailableError
from lineguard.contracts.errors import (
    AuthenticationError,
    ConflictError,
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
    ReplicaRevokedError,
)
from lineguard.server.pki import ReplicaCredentials, is_replica_certificate
from lineguard.server.tls import MODERN_CIPHERS

__all__ = [
    "MAX_CONNECTIONS",
    "MAX_HEADER_BYTES",
    "TIMEOUT_S",
    "Admit",
    "PeerClient",
    "PeerServer",
    "RefusalReason",
    "Refused",
    "RelayTls",
    "Request",
]

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 4096
#: Relay requests one listener answers at once by default (``http.internal_max_handoffs``):
#: with the 8 MiB body limit this bounds the memory incoming hand-offs can take.
MAX_CONNECTIONS = 8
#: Connect, read and write limit of one hand-off.
TIMEOUT_S = 10.0
#: How long a refused sender's unread body is drained before the connection closes.
LINGER_S = 5.0
_LENGTH = struct.Struct(">I")

#: Errors an owner may answer with, raised again by the client under the same type.
_KNOWN: dict[str, type[LineGuardError]] = {
    e.code: e
    for e in (
        AuthenticationError,  # forwarded enrollments and renewals (server/nodes/forward.py)
        ConflictError,
        IssuerUnavailableError,
        NotFoundError,
        EvidenceViewGoneError,
        ImageDecodeError,
        InputError,
        PayloadTooLargeError,
        PermissionDeniedError,
        RateLimitedError,
        ReplicaRevokedError,
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
#: Raises a typed error (:class:`ReplicaRevokedError`) for a replica id that must be refused.
Admit = Callable[[str], Awaitable[None]]
RefusalReason = Literal["handshake_failed", "not_a_replica", "revoked"]
#: Told of each refused connection: (source address, reason, what it presented).
Refused = Callable[[str, RefusalReason, str], None]


async def _admit_all(peer_id: str) -> None:
    return None


def _ignore(source: str, reason: RefusalReason, presented: str) -> None:
    return None


class RelayTls:
    """The TLS contexts of one process's relay, from its in-memory replica credentials.

    ``ssl`` loads keys only from files: they are written to a private temporary
    directory (0700, in memory where ``/dev/shm`` exists), loaded, and removed at once.
    :meth:`renew` (fresh credentials) and :meth:`retrust` (a new trust bundle after
    ``lineguard ca rotate`` / ``retire``) build new contexts and swap them in, so the
    listener and the client use them from their next handshake while connections in
    flight finish on the old ones (OpenSSL cannot drop a CA from a context in place).
    ``scheduled.py`` renews once half the certificate's lifetime is left (its
    ``notAfter`` on the wall clock) or when the plant CA that issues changed.
    """

    def __init__(self, credentials: ReplicaCredentials, ca_file: Path) -> None:
        self._ca_file = ca_file
        self._install(credentials, ca_file)

    def renew(self, credentials: ReplicaCredentials) -> None:
        """Present ``credentials`` from the next handshake on (both as listener and as client)."""
        self._install(credentials, self._ca_file)

    def retrust(self, ca_file: Path) -> None:
        """Verify peers against ``ca_file`` (re-read now) from the next handshake on."""
        self._install(self._credentials, ca_file)
        self._ca_file = ca_file

    def _install(self, credentials: ReplicaCredentials, ca_file: Path) -> None:
        cert_obj = x509.load_pem_x509_certificate(credentials.cert_pem)
        server = self._context(ssl.PROTOCOL_TLS_SERVER, ca_file)
        server.verify_mode = ssl.CERT_REQUIRED
        server.num_tickets = 0  # no resumption: a new trust bundle applies to every new connection
        client = self._context(ssl.PROTOCOL_TLS_CLIENT, ca_file)
        shm = Path("/dev/shm")  # noqa: S108 - tmpfs, so the key never reaches a disk
        where = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
        with tempfile.TemporaryDirectory(prefix="lineguard-relay-", dir=where) as private:
            cert, key = Path(private) / "replica.crt.pem", Path(private) / "replica.key.pem"
            cert.write_bytes(credentials.cert_pem)
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(credentials.key_pem)
            for ctx in (server, client):
                ctx.load_cert_chain(cert, key)
        # Swapped last and together (attribute writes are atomic): a handshake takes one or the other.
        self.server, self.client, self._credentials = server, client, credentials
        self.not_after = cert_obj.not_valid_after_utc
        #: The CA name that issued the certificate presented now.
        self.issuer = cert_obj.issuer

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
    """This process's relay listener; ``handler`` answers each authenticated, admitted request."""

    def __init__(
        self,
        tls: RelayTls,
        handler: Handler,
        *,
        max_connections: int = MAX_CONNECTIONS,
        admit: Admit = _admit_all,
        refused: Refused = _ignore,
    ) -> None:
        self._tls = tls
        self._handler = handler
        self._admit = admit
        self._refused = refused
        self._max_connections = max_connections
        self._active = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0: a free port) in this listener's own thread; the bound port.

        The listener runs its own standard-library event loop: it does each TLS handshake
        itself (``StreamWriter.start_tls``, so refused handshakes are seen), which uvloop,
        the loop uvicorn runs, does unreliably (about one accepted connection in four
        hung in its handshake). It also keeps hand-offs off the loop serving HTTP.
        """
        loop = asyncio.SelectorEventLoop()
        ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._run, args=(loop, host, port, ready), name="evidence-relay-listener", daemon=True
        )
        self._thread.start()
        self.port = await asyncio.wrap_future(ready)
        return self.port

    def _run(
        self, loop: asyncio.AbstractEventLoop, host: str, port: int, ready: concurrent.futures.Future[int]
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(asyncio.start_server(self._serve, host, port))
        except BaseException as exc:  # the address in use, a bad host: told to start()
            ready.set_exception(exc)
            loop.close()
            return
        ready.set_result(int(self._server.sockets[0].getsockname()[1]))
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or loop.is_closed():
            return
        with contextlib.suppress(Exception):  # TimeoutError, or the loop already closing
            closing = asyncio.run_coroutine_threadsafe(self._close(), loop)
            await asyncio.wait_for(asyncio.wrap_future(closing), TIMEOUT_S + 1)
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join, TIMEOUT_S)
        self._loop = self._thread = None

    async def _close(self) -> None:
        """On the listener's loop: stop accepting, let answers in flight end, cancel the rest."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), TIMEOUT_S)
            self._server = None
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        source = str((writer.get_extra_info("peername") or ("unknown",))[0])[:64]
        answer = b""
        try:
            await writer.start_tls(self._tls.server, ssl_handshake_timeout=TIMEOUT_S)
        except ssl.SSLEOFError:  # closed before a handshake: a TCP probe (health check, doctor)
            writer.transport.abort()
            return
        except ssl.SSLError as exc:  # no certificate, another CA, expired, not TLS at all
            self._refused(source, "handshake_failed", str(exc.reason or exc)[:200])
            writer.transport.abort()
            return
        except (TimeoutError, OSError):
            writer.transport.abort()
            return
        unread = False
        try:
            answer, unread = await asyncio.wait_for(self._answer(reader, writer, source), TIMEOUT_S)
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            answer = b""
        try:
            if answer:
                writer.write(answer)
                await asyncio.wait_for(writer.drain(), TIMEOUT_S)
            if unread:
                await _discard_until_closed(reader)
        except (TimeoutError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _identify(self, writer: asyncio.StreamWriter, source: str) -> str:
        """The peer's replica id, admitted; refusals are told to ``refused`` and raised."""
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        try:
            peer_id = replica_id_of(der)
        except PermissionDeniedError:
            self._refused(source, "not_a_replica", _subject(der))
            raise
        try:
            await self._admit(peer_id)
        except ReplicaRevokedError:
            self._refused(source, "revoked", peer_id)
            raise
        return peer_id

    async def _answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, source: str
    ) -> tuple[bytes, bool]:
        """The answer's frame, and whether a replica's request was refused as busy, unread.

        Only that refusal drains the request afterwards (:func:`_discard_until_closed`): a
        peer refused as not a replica, or revoked, is cut off at once.
        """
        unread = False
        try:
            peer_id = await self._identify(writer, source)
            if self._active >= self._max_connections:  # refused before a byte of the request is read
                unread = True
                msg = f"this server is answering {self._max_connections} relay requests already; try again"
                raise RateLimitedError(msg)
            self._active += 1  # one event loop: no lock needed; counted until the answer is built
            try:
                reply, data = await self._read_and_handle(reader, peer_id)
            finally:
                self._active -= 1
        except LineGuardError as exc:
            log.warning("relay request refused: %s", exc.message)
            return _frame(_error(exc)), unread
        return _frame({"ok": True, **reply}, data), False

    async def _read_and_handle(
        self, reader: asyncio.StreamReader, peer_id: str
    ) -> tuple[dict[str, Any], bytes]:
        (head,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
        _check_lengths(head)
        header = _header(await reader.readexactly(head))
        (size,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
        _check_lengths(head, size)
        body = await reader.readexactly(size)
        return await self._handler(Request(str(header.get("op", "")), header, body, peer_id))


async def _discard_until_closed(reader: asyncio.StreamReader) -> None:
    """Read and drop what the peer still sends, until it closes (bounded), after a refusal.

    A refusal is answered before the request is read, while the sender may still be writing
    its body (up to 8 MiB). Closing a socket with unread data makes the kernel reset the
    connection, and a reset can reach the sender before it reads the refusal: it then sees
    "could not be reached" instead of "busy, try again" (a CI run caught exactly that). So
    the refused body is read and dropped in 64 KiB pieces (memory stays bounded: nothing is
    kept) until the sender, having read the answer, closes, or LINGER_S / the largest
    frame has passed.
    """
    left = MAX_HEADER_BYTES + MAX_EVIDENCE_JPEG_BYTES + 2 * _LENGTH.size
    deadline = asyncio.get_running_loop().time() + LINGER_S
    with contextlib.suppress(TimeoutError, OSError):
        while left > 0:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            chunk = await asyncio.wait_for(reader.read(1 << 16), remaining)
            if not chunk:
                return
            left -= len(chunk)


def _subject(der: bytes | None) -> str:
    if not der:
        return "no certificate"
    return x509.load_der_x509_certificate(der).subject.rfc4514_string()[:200]


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
