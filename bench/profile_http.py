"""Instructions per ingest request outside ``ingest_batch`` (callgrind, load-independent).

``bench_ingest.py --split-cpu`` measures the whole server but in CPU time, which the
machine's load moves. This counts instructions (valgrind's callgrind) of the ingest
route run in process: the FastAPI app ``create_app`` builds, called as ASGI the way
uvicorn calls it (the verified client certificate in the scope's TLS extension, the body
in 64 KiB chunks), on SQLite, audit and encryption off, the ``bench_ingest`` bodies (100
events per request). TLS, uvicorn and httptools are not in it (see ``--profile-loop`` of
``bench_ingest.py`` for those). Each variant runs in its own process:

- ``request``: POST /api/v1/ingest/batch through the whole app (middleware, routing,
  dependencies, the two worker-thread hops, parsing, ``ingest_batch``, the response);
- ``store``: what the route's store hop runs, called directly (``parse_message``,
  ``authorize_batch``, ``ingest_batch`` in a session);
- ``authenticate``: the route's first hop, called directly (certificate status, rate limit);
- ``refused``: the same request without a client certificate (401: middleware, routing,
  dependencies and the error handler, nothing else).

``request - store - authenticate`` is the route's own cost: what FastAPI, Starlette,
anyio and our middleware spend on one request.

    python bench/profile_http.py --batches 10      # in each tree, PYTHONPATH=<tree>/src

Needs valgrind and a C compiler (profile_ingest's ``_Counter``); ~1 minute per variant.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_ingest as ingest  # noqa: E402 - the same synthetic events as the HTTP benchmark
from profile_ingest import _Counter, count_in_child  # noqa: E402

VARIANTS = ("request", "store", "authenticate", "refused")
WARMUP = 5
NODE = "bench-node-0"
PATH = "/api/v1/ingest/batch"
CHUNK = 65_536


def _node_certificate() -> tuple[str, Any]:
    """A node certificate (PEM) and the rows that make it an enrolled, active node's."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from lineguard.server.nodes import Node, NodeCertificate
    from lineguard.server.pki import certificate_fingerprint

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NODE)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    rows = [
        Node(node_id=NODE, site_id="plant-a", line_id="line-0", camera_ids=[f"{NODE}-cam0", f"{NODE}-cam1"]),
        NodeCertificate(
            serial=format(cert.serial_number, "x"),
            node_id=NODE,
            fingerprint_sha256=certificate_fingerprint(cert),
            not_before=now - timedelta(hours=1),
            not_after=now + timedelta(days=1),
        ),
    ]
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii"), rows


def _scope(pem: str | None, length: int) -> dict[str, Any]:
    tls = {"client_cert_chain": [pem] if pem else [], "tls_version": 0x0304, "cipher_suite": None}
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(length).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8443),
        "extensions": {"tls": tls},
        "state": {},
    }


def _asgi_request(app: Any, pem: str | None, expect: int) -> Callable[[bytes], None]:
    """One request through ``app`` per call, on one event loop (uvloop, as the server)."""
    loop = asyncio.new_event_loop()
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - the server extra installs it
        pass

    async def call(body: bytes) -> None:
        chunks = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)] or [b""]
        last = len(chunks) - 1
        messages = [{"type": "http.request", "body": c, "more_body": i < last} for i, c in enumerate(chunks)]
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(_scope(pem, len(body)), receive, send)
        if status != [expect]:
            msg = f"expected {expect}, the app answered {status}"
            raise RuntimeError(msg)

    return lambda body: loop.run_until_complete(call(body))


def _child(name: str, batches: int, library: Path | None) -> None:
    from lineguard.contracts.events import IngestBatch
    from lineguard.server.app import create_app
    from lineguard.server.audit import AuditRecorder
    from lineguard.server.ingest import views
    from lineguard.server.protection import NoEncryption
    from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head

    with tempfile.TemporaryDirectory(prefix="lg-http-") as tmp:
        root = Path(tmp)
        settings = ingest._settings(root / "server", f"sqlite:///{root / 'bench.db'}", 0)
        engine = create_engine_for(settings.database.url)
        upgrade_to_head(engine)
        pem, rows = _node_certificate()
        with session_factory(engine)() as session:
            session.add_all(rows[:1])
            session.flush()
            session.add_all(rows[1:])
            session.commit()
        app = create_app(settings, engine=engine, sealer=NoEncryption(), audit=AuditRecorder(enabled=False))
        context = app.state.lineguard
        node = views._authenticate(context, pem)
        # main before the pre-encoded response named it _store (it returned the receipt)
        store = getattr(views, "_stored", None) or views._store
        bodies = ingest._bodies(NODE, "line-0", WARMUP + batches)
        run: Callable[[bytes], Any] = {
            "request": _asgi_request(app, pem, 200),
            "refused": _asgi_request(app, None, 401),
            "store": lambda body: store(context, node, body),
            "authenticate": lambda _body: views._authenticate(context, pem),
        }[name]
        IngestBatch.model_validate_json(bodies[0])  # the validator's first use
        for body in bodies[:WARMUP]:
            run(body)
        counter = _Counter(library) if library else None
        t0 = time.process_time()
        if counter:
            counter.start()
        for body in bodies[WARMUP:]:
            run(body)
        if counter:
            counter.stop()
        if not counter:
            per_request_ms = 1e3 * (time.process_time() - t0) / batches
            print(f"{name}: {per_request_ms:.3f} ms CPU per request (no valgrind)")
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=10, help="requests of 100 events counted per variant")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument(
        "--cpu", action="store_true", help="CPU time per request instead (no valgrind; load moves it)"
    )
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--library", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child, args.batches, args.library)
        return
    if args.cpu:
        for name in args.variants:
            _child(name, args.batches, None)
        return
    import lineguard

    with tempfile.TemporaryDirectory(prefix="lg-http-") as tmp:
        library = _Counter.build(Path(tmp))
        counts = {
            n: count_in_child(Path(__file__), "--child", n, args.batches, library, Path(tmp)) / args.batches
            for n in args.variants
        }
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        "ingest route, instructions per request of 100 events (callgrind Ir),"
        f" load {load} ({lineguard.__file__})"
    )
    for name in args.variants:
        print(f"  {name:13s} {counts[name] / 1e6:8.3f} M")
    if {"request", "store", "authenticate"} <= counts.keys():
        own = counts["request"] - counts["store"] - counts["authenticate"]
        print(f"  {'route itself':13s} {own / 1e6:8.3f} M  (request - store - authenticate)")


if __name__ == "__main__":
    main()
