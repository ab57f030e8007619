"""A small HTTPS ingest receiver with client-certificate auth, for tests, benchmarks and bench demos.

It speaks the two ingest routes of the plant server (``POST /api/v1/ingest/batch`` and
``/api/v1/ingest/heartbeat``), requires a client certificate from the given CA, checks
every body against the wire contracts, deduplicates by idempotency key like the server
does, and records every raw request body it received — so a test can inspect every
byte a node sent. Standard library only (``http.server`` + ``ssl``); not the plant
server, and not for production.
"""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from lineguard.contracts.errors import ContractError
from lineguard.contracts.events import (
    Alert,
    IngestBatch,
    InspectionEvent,
    NodeHeartbeat,
    PartVerdict,
    WorkOrderTrigger,
)
from lineguard.contracts.ppe import PpeCounts
from lineguard.contracts.stages import StageResult
from lineguard.contracts.validation import parse_message
from lineguard.edge.outbox.transport import BATCH_PATH, HEARTBEAT_PATH

__all__ = ["LocalIngestReceiver"]


class LocalIngestReceiver:
    """Start with :meth:`start`, stop (simulating an outage) with :meth:`stop`; state survives restarts."""

    def __init__(self, *, cert_file: Path, key_file: Path, client_ca_file: Path, port: int = 0) -> None:
        self.cert_file, self.key_file, self.client_ca_file = cert_file, key_file, client_ca_file
        self.port = port
        self.lock = threading.Lock()
        self.items: dict[
            str, InspectionEvent | Alert | WorkOrderTrigger | PartVerdict | StageResult | PpeCounts
        ] = {}
        self.deliveries = 0
        self.duplicates = 0
        self.heartbeats = 0
        self.bodies: list[bytes] = []
        self.peers: set[str] = set()
        self.rejections: list[str] = []
        #: Requests whose client went away before its whole body arrived (not judged).
        self.aborted = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert_file, self.key_file)
        ctx.load_verify_locations(cafile=self.client_ca_file)
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:
                    # The client went away mid-request (a node killed while sending):
                    # nothing complete arrived to accept or reject, as a real server sees it.
                    self.close_connection = True
                    with receiver.lock:
                        receiver.aborted += 1
                    return
                cert = self.connection.getpeercert()
                subject = dict(x[0] for x in cert.get("subject", ())) if cert else {}
                try:
                    status = receiver.handle(self.path, body, str(subject.get("commonName", "")))
                except ContractError as exc:
                    status = 422
                    receiver.rejections.append(exc.message)
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.socket = self._context().wrap_socket(server.socket, server_side=True)
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="ingest-receiver", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def handle(self, path: str, body: bytes, peer: str) -> int:
        with self.lock:
            self.bodies.append(body)
            self.peers.add(peer)
        if path == HEARTBEAT_PATH:
            parse_message(NodeHeartbeat, body)
            with self.lock:
                self.heartbeats += 1
            return 200
        if path != BATCH_PATH:
            return 404
        batch = parse_message(IngestBatch, body)
        if batch.node_id != peer:
            return 403
        items: list[InspectionEvent | Alert | WorkOrderTrigger | PartVerdict | StageResult | PpeCounts] = [
            *batch.events,
            *batch.alerts,
            *batch.work_orders,
            *batch.parts,
            *batch.stage_results,
            *batch.ppe_counts,
        ]
        with self.lock:
            for item in items:
                self.deliveries += 1
                if item.idempotency_key in self.items:
                    self.duplicates += 1
                else:
                    self.items[item.idempotency_key] = item
        return 200
