"""Run the app under uvicorn over HTTPS only; ``ServerThread`` runs it in-process for
tests and benchmarks (real sockets, real TLS)."""

from __future__ import annotations

import gc
import importlib.util
import os
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI

from lineguard.server.tls.context import server_ssl_context
from lineguard.server.tls.protocol import peer_certificate_protocol
from lineguard.server.tls.reload import ReloadingContext

__all__ = ["ServerThread", "serve", "serve_workers", "uvicorn_config"]


def event_loop() -> Literal["uvloop", "asyncio"]:
    """uvloop (libuv, and a leaner TLS transport) when installed with the server extra."""
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def uvicorn_config(
    app: FastAPI,
    *,
    host: str,
    port: int,
    cert_file: Path,
    key_file: Path,
    ca_file: Path,
    min_tls_version: Literal["1.2", "1.3"] = "1.2",
    log_level: str = "info",
    access_log: bool = True,
) -> uvicorn.Config:
    """uvicorn settings: our TLS context (re-read when its files change), our protocol class,
    no plain HTTP. ``ca_file`` should be ``ca/trust.pem`` (:attr:`CaPaths.trust`), which a
    CA rotation rewrites; the CA file alone would be the new CA only after ``ca rotate``."""

    def build() -> ssl.SSLContext:
        return server_ssl_context(
            cert_file=cert_file, key_file=key_file, ca_file=ca_file, min_version=min_tls_version
        )

    def ssl_factory(_config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        # Follows the files: a CA rotation or retirement, a re-issued server certificate
        # are served from the next handshake on, no restart (reload.py).
        return ReloadingContext(build, (cert_file, key_file, ca_file)).front

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=peer_certificate_protocol(),
        loop=event_loop(),
        # uvicorn only calls the factory when it believes TLS is on: naming the files
        # makes it so, the factory then builds the context our way.
        ssl_certfile=str(cert_file),
        ssl_keyfile=str(key_file),
        ssl_context_factory=ssl_factory,
        log_level=log_level,
        access_log=access_log,
        server_header=False,
        proxy_headers=False,
        lifespan="on",
        h11_max_incomplete_event_size=16 * 1024,
    )


class ServerProcess(uvicorn.Server):
    """uvicorn for a process that does nothing but serve (``serve``, ``serve_workers``).

    Once started (migrations, domain lifespans, sockets bound), everything alive is
    moved out of the garbage collector's reach (``gc.freeze()``): the app's metadata,
    schemas and routes are never garbage, and without this every full collection
    walks them all, a pause of several milliseconds that lands in some request's
    latency. The GIL switch interval is lowered from 5 ms to ``SWITCH_INTERVAL_S`` so
    the event loop thread gets the GIL back from a worker thread sooner.

    The youngest generation is collected every ``GC_YOUNG_THRESHOLD`` new container
    objects instead of Python's 700: an ingest batch of 100 events allocates tens of
    thousands (validated models, rows, sealed fields, statement parameters), nearly
    all freed by reference counting when the request ends, and collecting every 700 of
    them cost ~10 % of the write path's CPU (``bench/profile_ingest.py --gc``). Garbage
    in reference cycles is still collected, a little later; the older generations keep
    Python's ratios.
    """

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        await super().startup(sockets=sockets)
        gc.collect()
        gc.freeze()
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


#: The exit status of a server that did not start (uvicorn's ``STARTUP_FAILURE``).
STARTUP_FAILURE = 3
#: ``sys.setswitchinterval`` in a server process (Python's default is 0.005 s).
SWITCH_INTERVAL_S = 0.001
#: New container objects between collections of the youngest generation in a server
#: process (Python's default is 700; see :class:`ServerProcess`).
GC_YOUNG_THRESHOLD = 10_000


def serve(app: FastAPI, **kwargs: Any) -> None:
    """Serve ``app`` in this process until interrupted; exit 3 if it never started.

    uvicorn's ``Server.run`` returns quietly when a lifespan refuses the start (a revoked
    replica, a replica id in use: the log says why); exiting 3 as ``uvicorn.run`` does
    lets a service manager and the operator see the start failed.
    """
    server = ServerProcess(uvicorn_config(app, **kwargs))
    server.run()
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


def _worker(app_factory: Callable[[], FastAPI], sock: socket.socket, kwargs: dict[str, Any]) -> None:
    # Each worker builds its own app (engine, pools, caches) after the fork.
    server = ServerProcess(uvicorn_config(app_factory(), **kwargs))
    server.run(sockets=[sock])
    if not server.started:  # its lifespan refused the start (as serve(): the log says why)
        raise SystemExit(STARTUP_FAILURE)


def serve_workers(
    app_factory: Callable[[], FastAPI], *, workers: int, host: str, port: int, **kwargs: Any
) -> None:
    """Serve with ``workers`` processes sharing one listening socket (the kernel spreads
    connections between them); parsing, sealing and TLS then use every core.

    The parent binds the socket, forks the workers and waits; Ctrl-C or SIGTERM stops
    them all. With one worker the app runs in this process.
    """
    if workers <= 1:
        serve(app_factory(), host=host, port=port, **kwargs)
        return
    import multiprocessing
    import signal

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    kwargs = {"host": host, "port": port, **kwargs}
    context = multiprocessing.get_context("fork")
    procs = [
        context.Process(target=_worker, args=(app_factory, sock, kwargs), daemon=False)
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()

    def stop(_signum: int, _frame: object) -> None:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for proc in procs:
        proc.join()
    sock.close()
    if all(proc.exitcode == STARTUP_FAILURE for proc in procs):  # none started: say so, as serve()
        raise SystemExit(STARTUP_FAILURE)


class ServerThread:
    """uvicorn in a background thread on a free loopback port; a context manager."""

    def __init__(self, app: FastAPI, **kwargs: Any) -> None:
        kwargs.setdefault("host", "127.0.0.1")
        if not kwargs.get("port"):
            with socket.socket() as s:
                s.bind((kwargs["host"], 0))
                kwargs["port"] = s.getsockname()[1]
        kwargs.setdefault("log_level", "warning")
        kwargs.setdefault("access_log", False)
        self.port: int = kwargs["port"]
        self.host: str = kwargs["host"]
        self.server = uvicorn.Server(uvicorn_config(app, **kwargs))
        self.thread = threading.Thread(target=self.server.run, name="lineguard-server", daemon=True)

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                msg = "the test server did not start (see the log above)"
                raise RuntimeError(msg)
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
