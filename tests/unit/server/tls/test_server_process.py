"""A serving process tunes itself once started: start-up objects leave the garbage
collector's reach (``gc.freeze``), the youngest generation is collected less often, and
the GIL switch interval is shortened.

The server runs for real in a background thread (its own event loop there, started by
uvicorn), and the test only waits for it: no event loop is started in the test's own
thread, whatever else pytest is running.
"""

from __future__ import annotations

import gc
import ssl
import sys
import threading
import time
from pathlib import Path

import httpx
from fastapi import FastAPI

from lineguard.server.pki import ca_paths
from lineguard.server.tls.serve import GC_YOUNG_THRESHOLD, SWITCH_INTERVAL_S, ServerProcess, uvicorn_config
from tests.support.gc_freeze import freeze_what_is_alive
from tests.unit.server.conftest import make_plant_ca


def test_a_started_server_process_freezes_start_up_objects_collects_less_and_shortens_switches(
    tmp_path: Path,
) -> None:
    make_plant_ca(tmp_path)
    paths = ca_paths(tmp_path)
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    config = uvicorn_config(
        app,
        host="127.0.0.1",
        port=0,
        cert_file=paths.server_cert,
        key_file=paths.server_key,
        ca_file=paths.cert,
        log_level="warning",
        access_log=False,
    )
    server = ServerProcess(config)
    switch_interval = sys.getswitchinterval()
    thresholds = gc.get_threshold()
    # The worker froze what its collection left alive (tests/conftest.py): the server adds to it.
    frozen_before = gc.get_freeze_count()
    thread = threading.Thread(target=server.run, name="server-process-test", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        # Tuning follows uvicorn's start-up (which sets ``started``): wait for both.
        while not (server.started and gc.get_threshold()[0] == GC_YOUNG_THRESHOLD):
            assert thread.is_alive(), "the server stopped during start-up (see the log above)"
            assert time.monotonic() < deadline, "the server did not start and freeze within 60 s"
            time.sleep(0.05)
        assert gc.get_freeze_count() > frozen_before
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *thresholds[1:])
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S
        port = server.servers[0].sockets[0].getsockname()[1]
        with httpx.Client(verify=ssl.create_default_context(cafile=paths.cert), timeout=30) as client:
            assert client.get(f"https://127.0.0.1:{port}/ping").json() == {"pong": "yes"}
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        gc.unfreeze()
        if frozen_before:
            freeze_what_is_alive()  # the worker's own freeze, as it was (without the stopped server)
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(switch_interval)
