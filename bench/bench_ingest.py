"""Ingest and dashboard-query benchmark of the plant server.

Ingest: a real server process (uvicorn, HTTPS, mTLS) and client threads acting as
enrolled edge nodes over loopback, each sending batches of 100 events. Two runs per
engine in the same invocation, with audit + encryption ON (the default server) and
OFF (``NoEncryption`` + a disabled audit recorder); the script prints the ratio.

* paced: the target rate (default 5,000 events/s, i.e. 50 batches/s spread over the
  nodes) for ``--seconds``; reports achieved events/s and p50/p99 request latency;
* saturation: every node sends back to back; reports the maximum events/s.

Queries: a database filled with ``--query-events`` synthetic events over 90 days
(4 lines x 4 cameras, rollup built alongside), then each dashboard query timed.

    python bench/bench_ingest.py                       # SQLite and PostgreSQL
    python bench/bench_ingest.py --engine sqlite --seconds 20 --query-events 10000000
    python bench/bench_ingest.py --engine sqlite --skip-queries --index-ab 3

``--split-cpu``: where the server's CPU per batch goes. Each server process sums the CPU
time of its threads (``time.thread_time``) inside the route's two worker hops — the
certificate lookup and rate limit (``views._authenticate``) and the store hop
(``views._store``), and inside the latter JSON parsing + contract validation
(``parse_message``) and ``ingest_batch`` — and the rest of the server's CPU per batch
(the event loop: uvicorn, httptools, TLS, routing, middleware, reading the body, the JSON
response, thread hand-offs) is printed as what is left.

``--profile-loop N``: cProfile (CPU time) of each server worker's event-loop thread in the
saturated phase — uvicorn, TLS, routing, dependencies, the thread hand-offs, the response —
printed by owner (FastAPI, Starlette, uvicorn, anyio, ours, ...) and the top N functions;
the worker threads' stages stay out of it. Profiling slows the loop: read shares.

``--index-ab N``: the cost of one index to ingest. Audit + encryption on, ``N`` rounds of
two servers, one on the head schema and one with ``ingest_0009``'s partial index of failing
events dropped after the migration (:data:`AB_INDEX`), alternating so that the machine's
load falls on both alike; the ratio of CPU per batch (median over the rounds) is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support.postgres: the same throwaway cluster as the tests

BATCH = 100
NODES = 4
#: The capture times of a batch's events step by this much (two cameras at ~50 frames/s):
#: every event has a time of its own, as on a line. Until 2026-12-07 15:00 every event of a
#: batch had the batch's one time, which the insert then bound once for all its rows
#: (``storage.insert_rows``' shared values): ~0.8k instructions per event cheaper than a line.
EVENT_SPACING = timedelta(milliseconds=10)
#: Seconds of paced load before the measured phases (see ``bench_ingest``).
WARM_UP_S = 3.0
#: The index ``--index-ab`` takes away in its B runs.
AB_INDEX = "ix_inspection_events_failed_line_id_captured_at"
ENV = {
    "LINEGUARD_CA_PASSPHRASE": "bench ca passphrase " + secrets.token_hex(8),
    "LINEGUARD_KEYRING_PASSPHRASE": "bench keyring passphrase " + secrets.token_hex(8),
}


# -- the server process ---------------------------------------------------------------


def _settings(data_dir: Path, db_url: str, port: int, workers: int = 1):  # type: ignore[no-untyped-def]
    from lineguard.config.server import IngestLimits, ServerConfig

    return ServerConfig.model_validate(
        {
            "kind": "server",
            "site_id": "plant-a",
            "data_dir": str(data_dir),
            "http": {"host": "127.0.0.1", "port": port, "workers": workers},
            "database": {"url": db_url, "pool_size": 8},
            # The benchmark measures throughput, not the per-node limit.
            "ingest": IngestLimits(requests_per_second=10_000, burst=10_000).model_dump(),
            "pki": {"server_names": ["127.0.0.1"]},
        }
    )


def serve(
    data_dir: Path, db_url: str, port: int, protected: bool, workers: int, without_index: bool = False
) -> None:
    from lineguard.server.admin import admin_session, ensure_server_certificate, load_ca
    from lineguard.server.app import create_app
    from lineguard.server.audit import AuditRecorder
    from lineguard.server.protection import NoEncryption, ensure_keyring
    from lineguard.server.tls import serve_workers

    settings = _settings(data_dir, db_url, port, workers)
    ca = load_ca(settings)
    issued = ensure_server_certificate(settings, ca)
    # (paths, event) since 8175068; the paths alone before, in trees an A/B run passes as
    # PYTHONPATH (e.g. `git archive c232eec src`), so this script serves both.
    paths = issued[0] if isinstance(issued, tuple) else issued
    with admin_session(settings, actor="cli:bench"):
        pass  # migrate once before the workers start
    if without_index:
        from sqlalchemy import text

        from lineguard.server.storage import create_engine_for

        engine = create_engine_for(db_url)
        with engine.begin() as conn:
            conn.execute(text(f"DROP INDEX {AB_INDEX}"))
        engine.dispose()
    if protected:
        ensure_keyring(settings)
    if os.environ.get(SPLIT_ENV):
        _time_stages(Path(os.environ[SPLIT_ENV]))

    hooks = [_profile_loop(Path(os.environ[PROFILE_ENV]))] if os.environ.get(PROFILE_ENV) else []

    def app():  # type: ignore[no-untyped-def]
        if protected:  # the defaults: envelope encryption + audit chain
            return create_app(settings, ca=ca, lifespan_hooks=hooks)
        return create_app(
            settings, ca=ca, sealer=NoEncryption(), audit=AuditRecorder(enabled=False), lifespan_hooks=hooks
        )

    serve_workers(
        app,
        workers=workers,
        host="127.0.0.1",
        port=port,
        cert_file=paths.server_cert,
        key_file=paths.server_key,
        ca_file=paths.cert,
        log_level="warning",
        access_log=False,
    )


# -- CPU accounting ---------------------------------------------------------------------
# On a shared machine wall-clock throughput depends on everyone else's load; CPU seconds
# spent per batch do not (much). We count the server processes, the PostgreSQL backends
# serving the benchmark database, and this client process.

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def _pids(parent: int, db_name: str | None) -> list[int]:
    found = [parent]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent or (db_name and cmdline.startswith("postgres:") and f" {db_name} " in cmdline):
            found.append(int(entry.name))
    return found


def cpu_snapshot(server_pid: int, db_name: str | None) -> dict[int, float]:
    return {pid: _proc_cpu_s(pid) for pid in _pids(server_pid, db_name)}


def cpu_spent(before: dict[int, float], server_pid: int, db_name: str | None) -> float:
    after = cpu_snapshot(server_pid, db_name)
    return sum(after[p] - before.get(p, 0.0) for p in after)


# -- where the server's CPU goes (--split-cpu) ----------------------------------------
#: Set (to a folder) in the server's environment by ``--split-cpu``.
SPLIT_ENV = "LG_BENCH_SPLIT_DIR"
#: The route's stages, timed in the server (see ``_time_stages``); the last two run inside "store".
STAGES = ("authenticate", "store", "parse + validate", "ingest_batch")
#: Each server process writes its sums every this many batches.
_SPLIT_EVERY = 10


def _time_stages(folder: Path) -> None:
    """In the server process, before it forks its workers: wrap the ingest route's stages
    so each process sums its threads' CPU time in them and writes the sums to
    ``folder/<pid>.json`` every :data:`_SPLIT_EVERY` batches (a worker ends by signal,
    so nothing is written at exit)."""
    import threading

    from lineguard.server.ingest import service, views

    sums: dict[str, float] = dict.fromkeys(STAGES, 0.0)
    batches = [0]
    # A worker's threads share one tmp file: two writes at once (a thread descheduled
    # mid-write while another reaches the next tenth batch, seen at load 25) had the second
    # os.replace find no tmp, fail the request and end the whole run.
    writing = threading.Lock()

    def write() -> None:
        path = folder / f"{os.getpid()}.json"
        tmp = path.with_suffix(".tmp")
        with writing:
            tmp.write_text(json.dumps({**sums, "batches": batches[0]}))
            os.replace(tmp, path)

    def timed(stage: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                sums[stage] += time.thread_time() - t0
                if stage == "ingest_batch":
                    batches[0] += 1
                    if batches[0] % _SPLIT_EVERY == 0:
                        write()

        return wrapper

    views._authenticate = timed("authenticate", views._authenticate)  # type: ignore[attr-defined]
    views._store = timed("store", views._store)  # type: ignore[attr-defined]
    views.parse_message = timed("parse + validate", views.parse_message)  # type: ignore[attr-defined]
    service.ingest_batch = timed("ingest_batch", service.ingest_batch)  # type: ignore[attr-defined]


# -- a profile of the event loop (--profile-loop) ------------------------------------------
#: Set (to a folder) in the server's environment by ``--profile-loop``.
PROFILE_ENV = "LG_BENCH_PROFILE_DIR"


def _profile_loop(folder: Path):  # type: ignore[no-untyped-def]
    """A lifespan hook: cProfile on the event loop's thread only (``setprofile`` is per
    thread, so the worker threads' parse/authenticate/ingest_batch stay out of it), CPU
    time (``time.thread_time``). The client writes the phase's name to ``folder/phase``;
    when it changes, the profile so far is dumped as ``<pid>-<old phase>.prof`` and a new
    one starts. Dumped from the loop itself (a task polling every 0.2 s): a worker ends by
    signal, and a profile is not safe to read from another thread."""
    import asyncio
    import cProfile
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def hook(_app):  # type: ignore[no-untyped-def]
        state = {"phase": "start", "profile": cProfile.Profile(time.thread_time)}

        def switch(phase: str) -> None:
            profile = state["profile"]
            profile.disable()
            profile.dump_stats(folder / f"{os.getpid()}-{state['phase']}.prof")
            state["phase"], state["profile"] = phase, cProfile.Profile(time.thread_time)
            state["profile"].enable()

        async def watch() -> None:
            control = folder / "phase"
            while True:
                await asyncio.sleep(0.2)
                phase = control.read_text().strip() if control.exists() else "start"
                if phase != state["phase"]:
                    switch(phase)

        state["profile"].enable()
        task = asyncio.create_task(watch())
        try:
            yield
        finally:
            task.cancel()
            state["profile"].disable()

    return hook


def _set_phase(name: str) -> None:
    """``--profile-loop``: tell the servers' profilers a new phase begins (see ``_profile_loop``)."""
    if os.environ.get(PROFILE_ENV):
        control = Path(os.environ[PROFILE_ENV]) / "phase"
        control.with_suffix(".tmp").write_text(name)
        os.replace(control.with_suffix(".tmp"), control)
        time.sleep(0.5)  # every server's watcher has seen it


def split_snapshot(folder: Path | None) -> dict[str, float]:
    """The stage sums of every server process so far (empty without ``--split-cpu``)."""
    totals: dict[str, float] = {}
    for path in folder.glob("*.json") if folder else ():
        for key, value in json.loads(path.read_text()).items():
            totals[key] = totals.get(key, 0.0) + value
    return totals


# -- the client side ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _event(node: str, camera: str, line: str, at: datetime, rng: random.Random) -> dict[str, object]:
    from lineguard.contracts.ids import new_id

    roll = rng.random()
    verdict, defects = ("pass", []) if roll > 0.08 else ("fail", [rng.choice(["scratch", "dent", "crack"])])
    # Ids as the edge node makes them (edge/pipeline/camera.py): UUIDv7 event ids, so a node's
    # keys arrive in increasing order, and the idempotency key is "<node>:<event id>".
    event_id = new_id("evt")
    return {
        "event_id": event_id,
        "idempotency_key": f"{node}:{event_id}",
        "node_id": node,
        "site_id": "plant-a",
        "line_id": line,
        "station_id": "st-1",
        "camera_id": camera,
        "part_id": f"P-{rng.randrange(10**8):08d}",
        "frame_id": rng.randrange(10**6),
        "captured_at": at.isoformat(),
        "model": {"model_id": "mdl_tile", "version": 3, "sha256": "ab" * 32},
        "verdict": verdict,
        "anomaly_score": rng.random(),
        "threshold": 0.5,
        "regions": [
            {"defect_class": d, "score": 0.9, "bbox": {"x": 10, "y": 20, "width": 30, "height": 40}}
            for d in defects
        ],
        "latency_ms": 12.0,
    }


#: Each node's next capture time. A line's capture times only move forward: every batch
#: continues where the node's last one ended, across phases too. Until 2026-12-07 16:55 every
#: batch of a phase restarted at the phase's start, so its events' times repeated those of all
#: the node's earlier batches, and each index on a time (``captured_at``, line and camera +
#: ``captured_at``) took every batch's rows at 100 places in the middle of the tree instead of
#: at its end: 9-10 ms of ``ingest_batch`` per batch instead of 4.6 (quiet, 16:39-16:50).
_CLOCK: dict[str, datetime] = {}


def _bodies(node: str, line: str, count: int) -> list[bytes]:
    rng = random.Random(node)
    now = datetime.now(UTC)
    at = max(now, _CLOCK.get(node, now))
    out = []
    for _ in range(count):
        events = [_event(node, f"{node}-cam{i % 2}", line, at + i * EVENT_SPACING, rng) for i in range(BATCH)]
        at += BATCH * EVENT_SPACING
        out.append(json.dumps({"node_id": node, "sent_at": now.isoformat(), "events": events}).encode())
    _CLOCK[node] = at
    return out


def _fresh_bodies(nodes: list[str], count: int) -> dict[str, list[bytes]]:
    """``count`` new bodies per node (node i is enrolled on line i)."""
    return {node: _bodies(node, f"line-{i}", count) for i, node in enumerate(nodes)}


@contextmanager
def server_process(
    data_dir: Path, db_url: str, protected: bool, workers: int, without_index: bool = False
) -> Iterator[tuple[str, int]]:
    port = _free_port()
    mode = ("on" if protected else "off") + ("-noidx" if without_index else "")
    cmd = [sys.executable, __file__, "--serve", str(data_dir), db_url, str(port), mode, str(workers)]
    proc = subprocess.Popen(cmd, env={**os.environ, **ENV})
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("benchmark server did not start")
            time.sleep(0.05)
        yield f"https://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _enroll_nodes(settings, url: str, root: Path) -> list[tuple[str, Path]]:  # type: ignore[no-untyped-def]
    from lineguard.edge.identity import enroll
    from lineguard.server.admin import admin_session, load_ca
    from lineguard.server.nodes import service

    ca = load_ca(settings)
    nodes = []
    with admin_session(settings, actor="cli:bench") as admin:
        tokens = []
        for i in range(NODES):
            node = f"bench-node-{i}"
            tokens.append(
                service.issue_token(
                    admin.session,
                    ca=ca,
                    node_id=node,
                    site_id="plant-a",
                    line_id=f"line-{i}",
                    camera_ids=[f"{node}-cam0", f"{node}-cam1"],
                    ttl=timedelta(hours=1),
                    created_by="cli:bench",
                    audit=admin.audit,
                )
            )
    for i, token in enumerate(tokens):
        node_dir = root / f"node-{i}"
        # A long handshake timeout: at a load of 20 the default 10 s failed whole runs.
        enroll(url, str(token), node_dir, timeout_s=60)
        nodes.append((f"bench-node-{i}", node_dir))
    return nodes


def _client(
    url: str,
    data: Path,
    bodies: list[bytes],
    start_at: float,
    offset_s: float,
    seconds: float,
    interval_s: float | None,
    results: Any,
) -> None:
    """One node: a client process of its own with one persistent HTTP/1.1 connection
    (stdlib ``http.client``, the cheapest client there is) and bodies serialised before
    the clock starts, so the client costs the 2 shared cores as little as possible.
    Sends every ``interval_s`` from ``start_at + offset_s`` (paced), or back to back."""
    import gc
    import http.client
    import resource
    from urllib.parse import urlsplit

    from lineguard.edge.identity import node_ssl_context

    gc.disable()
    parts = urlsplit(url)
    conn = http.client.HTTPSConnection(
        parts.hostname or "127.0.0.1", parts.port, context=node_ssl_context(data), timeout=60
    )
    conn.request("GET", "/api/v1/enroll/ca")  # handshake before the clock starts
    conn.getresponse().read()
    headers = {"content-type": "application/json"}
    latencies: list[float] = []
    errors: Counter[int] = Counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    while time.time() < start_at:
        time.sleep(min(0.01, max(0.0, start_at - time.time())))
    begin = time.perf_counter() - (time.time() - start_at)
    n = 0
    while True:
        now = time.perf_counter()
        if now - begin >= seconds:
            break
        if interval_s:
            due = begin + offset_s + n * interval_s
            if due > now:
                time.sleep(due - now)
        t0 = time.perf_counter()
        conn.request("POST", "/api/v1/ingest/batch", body=bodies[n % len(bodies)], headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - t0)
        if response.status != 200:
            errors[response.status] += 1
        n += 1
    usage = resource.getrusage(resource.RUSAGE_SELF)
    conn.close()
    if n > len(bodies):
        errors[-1] = n - len(bodies)  # resent bodies: duplicates, cheaper than new events
    results.put((latencies, dict(errors), usage.ru_utime + usage.ru_stime - cpu_before))


def _run_load(
    url: str,
    nodes: list[tuple[str, Path]],
    bodies: dict[str, list[bytes]],
    *,
    seconds: float,
    rate_eps: float | None,
    cpu: tuple[int, str | None],
    workers: int,
) -> dict[str, float]:
    """Send batches from every node for ``seconds``; paced at ``rate_eps`` or back to back.

    Paced nodes keep their own cadence, each starting at its own phase of the interval
    (independent lines are not synchronised): node i sends at i/N of the interval."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    results = context.Queue()
    interval = None if rate_eps is None else BATCH * len(nodes) / rate_eps
    start_at = time.time() + 2.0  # every client connected and waiting by then
    procs = [
        context.Process(
            target=_client,
            args=(
                url,
                data,
                bodies[node],
                start_at,
                i * (interval or 0) / len(nodes),
                seconds,
                interval,
                results,
            ),
        )
        for i, (node, data) in enumerate(nodes)
    ]
    for proc in procs:
        proc.start()
    while time.time() < start_at:
        time.sleep(0.01)
    split_folder = Path(os.environ[SPLIT_ENV]) if os.environ.get(SPLIT_ENV) else None
    server_before, split_before = cpu_snapshot(*cpu), split_snapshot(split_folder)
    collected = [results.get(timeout=seconds + 120) for _ in procs]
    server_cpu_s = cpu_spent(server_before, *cpu)
    split_after = split_snapshot(split_folder)
    for proc in procs:
        proc.join(timeout=30)
    latencies = sorted(x for lat, _, _ in collected for x in lat)
    errors: Counter[int] = Counter()
    for _, errs, _ in collected:
        errors.update(errs)
    client_cpu_s = sum(c for _, _, c in collected)
    total = len(latencies)
    if errors:
        print(f"    errors: {dict(errors)}")
    split = {k: split_after[k] - split_before.get(k, 0.0) for k in split_after}
    timed_batches = max(split.pop("batches", 0.0), 1.0)
    return {
        **{f"split_ms_per_batch {k}": 1000 * v / timed_batches for k, v in split.items()},
        "events_per_s": total * BATCH / seconds,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "max_ms": 1000 * latencies[-1],
        "requests": total,
        "server_cpu_ms_per_batch": 1000 * server_cpu_s / max(total, 1),
        "client_cpu_ms_per_batch": 1000 * client_cpu_s / max(total, 1),
        # What 2 dedicated cores could sustain: server, database and client share them,
        # and the server's Python work can use at most one core per worker process.
        "capacity_2_cores_eps": BATCH
        * max(total, 1)
        / max((server_cpu_s + client_cpu_s) / 2, server_cpu_s / min(workers, 2), 1e-9),
    }


def _print_split(engine_name: str, saturated: dict[str, float]) -> None:
    """``--split-cpu``: the saturated phase's server CPU per batch by stage, and the rest."""
    stages = {k.split(" ", 1)[1]: v for k, v in saturated.items() if k.startswith("split_ms_per_batch ")}
    if not stages:
        return
    whole, auth, store = saturated["server_cpu_ms_per_batch"], stages["authenticate"], stages["store"]
    parse, ingest = stages["parse + validate"], stages["ingest_batch"]
    loop, store_rest = whole - auth - store, store - parse - ingest

    def share(ms: float) -> str:
        return f"{ms:.2f} ms ({100 * ms / whole:.0f} %)"

    print(
        f"  {engine_name:10s} {'':20s}  server CPU per batch {whole:.2f} ms: ingest_batch {share(ingest)},"
        f" parse + validate {share(parse)}, rest of the store hop (authorize, session) {share(store_rest)},"
        f" authenticate {share(auth)}; outside the worker hops (event loop: TLS, HTTP, routing,"
        f" body, response, hand-offs) {share(loop)}",
        flush=True,
    )


#: Where a function of the event loop's profile belongs, by the path of its file (first match).
_LOOP_OWNERS = (
    ("lineguard", "/lineguard/"),
    ("fastapi", "/fastapi/"),
    ("starlette", "/starlette/"),
    ("uvicorn", "/uvicorn/"),
    ("anyio (thread hops)", "/anyio/"),
    ("pydantic", "/pydantic"),
    ("asyncio/ssl (stdlib)", "/asyncio/"),
    ("asyncio/ssl (stdlib)", "ssl.py"),
)


def _print_loop_profile(folder: Path, batches: int, top: int) -> None:
    """``--profile-loop``: the event loop threads' CPU per batch by owner and by function
    (cProfile's own time; profiling slows the loop, so read shares, not milliseconds)."""
    import pstats

    files = sorted(folder.glob("*-saturated.prof"))
    if not files or not batches:
        print("    (no event loop profile was written)")
        return
    stats = pstats.Stats(*map(str, files))
    rows = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _cc, _nc, tt, _ct, _callers in rows.values())
    owners: Counter[str] = Counter()
    for (path, _line, _name), (_cc, _nc, tt, _ct, _callers) in rows.items():
        fallback = "C / builtins" if path == "~" else "other"
        owner = next((o for o, mark in _LOOP_OWNERS if mark in path), fallback)
        owners[owner] += tt
    per = 1000 / batches
    print(f"    event loop threads, saturated phase, profiled: {total * per:.2f} ms CPU per batch")
    for owner, tt in owners.most_common():
        print(f"      {owner:24s} {tt * per:6.3f} ms ({100 * tt / total:4.1f} %)")
    ranked = sorted(rows.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    for (path, line, name), (_cc, nc, tt, ct, _callers) in ranked:
        where = "/".join(Path(path).parts[-2:]) if path != "~" else ""
        calls = nc / batches
        print(f"      {tt * per:6.3f} ms own {ct * per:6.3f} cum {calls:5.1f}/batch  {name} {where}:{line}")


#: (label, audit + encryption on, without :data:`AB_INDEX`): the default on/off pair.
ON_OFF = (("off", False, False), ("on", True, False))


def index_ab(rounds: int) -> tuple[tuple[str, bool, bool], ...]:
    """``--index-ab``: on with the index (A) and without it (B), alternating."""
    return tuple(v for r in range(1, rounds + 1) for v in ((f"A{r}", True, False), (f"B{r}", True, True)))


def bench_ingest(
    db_url_factory,
    engine_name: str,
    seconds: float,
    rate: float,
    workers: int,
    variants=ON_OFF,
    split_cpu: bool = False,
    profile_loop: int = 0,
) -> dict[str, dict[str, dict[str, float]]]:  # type: ignore[no-untyped-def]
    results: dict[str, dict[str, dict[str, float]]] = {}
    for mode, protected, without_index in variants:
        root = Path(tempfile.mkdtemp(prefix=f"lg-bench-{engine_name}-{mode}-"))
        try:
            db_url = db_url_factory(root)
            os.environ.update(ENV)
            if split_cpu:  # a fresh folder per server, read by _run_load
                (root / "split").mkdir()
                os.environ[SPLIT_ENV] = str(root / "split")
            if profile_loop:
                (root / "profile").mkdir()
                os.environ[PROFILE_ENV] = str(root / "profile")
            from lineguard.server.admin import init_ca

            settings = _settings(root / "server", db_url, 0)
            init_ca(settings)
            db_name = db_url.rsplit("/", 1)[1] if db_url.startswith("postgresql") else None
            with server_process(root / "server", db_url, protected, workers, without_index) as (
                url,
                server_pid,
            ):
                nodes = _enroll_nodes(settings, url, root)
                per_node = max(10, int(rate / BATCH / NODES * seconds * 2))
                # Bodies are unique per phase so every event is stored (no duplicates);
                # ids grow over time as on a real node, so later phases get later ids.
                fresh = partial(_fresh_bodies, [node for node, _ in nodes])
                cpu = (server_pid, db_name)
                # Warm-up, not measured: first requests pay one-time costs (keyring
                # unlock, statement preparation, caches) that say nothing about a
                # sustained rate.
                _run_load(
                    url,
                    nodes,
                    fresh(per_node // 2),
                    seconds=WARM_UP_S,
                    rate_eps=rate,
                    cpu=cpu,
                    workers=workers,
                )
                paced = _run_load(
                    url, nodes, fresh(per_node), seconds=seconds, rate_eps=rate, cpu=cpu, workers=workers
                )
                bodies = fresh(per_node * 4)
                _set_phase("saturated")
                saturated = _run_load(
                    url, nodes, bodies, seconds=seconds, rate_eps=None, cpu=cpu, workers=workers
                )
                _set_phase("end")
            results[mode] = {"paced": paced, "saturated": saturated}
            without = f" (without {AB_INDEX})" if without_index else ""
            print(
                f"  {engine_name:10s} audit+encryption {mode:3s}{without}:"
                f" paced {paced['events_per_s']:7.0f} ev/s "
                f"p50 {paced['p50_ms']:5.1f} ms p99 {paced['p99_ms']:5.1f} ms | "
                f"saturated {saturated['events_per_s']:7.0f} ev/s p99 {saturated['p99_ms']:5.1f} ms",
                flush=True,
            )
            print(
                f"  {engine_name:10s} {'':20s}  CPU per batch: server+db"
                f" {saturated['server_cpu_ms_per_batch']:5.1f} ms"
                f" (paced {paced['server_cpu_ms_per_batch']:4.1f} ms),"
                f" client {saturated['client_cpu_ms_per_batch']:4.1f} ms"
                f" -> capacity on 2 dedicated cores {saturated['capacity_2_cores_eps']:6.0f} ev/s"
                f" (load average {' '.join(f'{x:.1f}' for x in os.getloadavg())})",
                flush=True,
            )
            _print_split(engine_name, saturated)
            if profile_loop:
                _print_loop_profile(root / "profile", int(saturated["requests"]), profile_loop)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    if "on" not in results:
        _print_ab(engine_name, results)
        return results
    on, off = results["on"], results["off"]
    print(
        f"  {engine_name:10s} cost of audit+encryption (on/off): saturated throughput "
        f"{on['saturated']['events_per_s'] / off['saturated']['events_per_s']:.2f}, paced p99 "
        f"{on['paced']['p99_ms'] / off['paced']['p99_ms']:.2f}, server+db CPU per batch "
        f"{on['saturated']['server_cpu_ms_per_batch'] / off['saturated']['server_cpu_ms_per_batch']:.2f}",
        flush=True,
    )
    return results


def _print_ab(engine_name: str, results: dict[str, dict[str, dict[str, float]]]) -> None:
    def median(prefix: str, key: str) -> float:
        return statistics.median(r["saturated"][key] for m, r in results.items() if m.startswith(prefix))

    a_cpu, b_cpu = median("A", "server_cpu_ms_per_batch"), median("B", "server_cpu_ms_per_batch")
    a_cap, b_cap = median("A", "capacity_2_cores_eps"), median("B", "capacity_2_cores_eps")
    print(
        f"  {engine_name:10s} index A/B ({AB_INDEX}), medians over the rounds: server+db CPU per batch"
        f" with {a_cpu:.2f} ms, without {b_cpu:.2f} ms (with/without {a_cpu / b_cpu:.3f});"
        f" capacity on 2 cores with {a_cap:,.0f}, without {b_cap:,.0f} ev/s"
        f" (load average {' '.join(f'{x:.1f}' for x in os.getloadavg())})",
        flush=True,
    )


# -- dashboard queries over a large table -----------------------------------------------


_EVENT_COLUMNS = [
    *("event_id", "idempotency_key", "node_id", "site_id", "line_id", "station_id", "camera_id"),
    *("part_id_sealed", "frame_id", "captured_at", "received_at", "model_id", "model_version"),
    *("model_sha256", "verdict", "anomaly_score", "threshold", "regions", "evidence_ref", "latency_ms"),
]
_ALERT_COLUMNS = [
    *("alert_id", "idempotency_key", "node_id", "site_id", "line_id", "camera_id", "kind", "severity"),
    *("raised_at", "received_at", "message_sealed", "event_id", "defect_class"),
]
_ROLLUP_KEY = ["site_id", "defect_class", "line_id", "camera_id", "model_id", "model_version"]
_COUNTS = ["inspected", "passed", "failed", "uncertain"]
#: Release 3 judged the first 60 days, release 4 the last 30 (the dashboard's model filter).
_RELEASES = (("mdl_tile", 3, "ab" * 32), ("mdl_tile", 4, "cd" * 32))


def _sqlite_time(moment: datetime) -> str:
    # SQLAlchemy's storage format for DateTime on SQLite (naive UTC text).
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _write_rows(
    raw: Any, dialect: str, table: str, columns: list[str], rows: list[tuple[object, ...]]
) -> None:
    """Bulk load through the driver (sqlite3 executemany / PostgreSQL COPY)."""
    cur = raw.cursor()
    if dialect == "sqlite":
        marks = ", ".join("?" * len(columns))
        cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    else:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    raw.commit()


def _fill(engine: Any, n_events: int) -> None:
    """``n_events`` raw events over 90 days (4 lines x 4 cameras, two model releases), one
    alert per 1,000 events, and both rollups, loaded the way a bulk import would: the
    secondary indexes of the two big tables are dropped before and built after."""
    from sqlalchemy import Table, text

    from lineguard.server.ingest.models import ALL_PARTS, AlertRow, InspectionEventRow

    dialect = engine.dialect.name
    when = _sqlite_time if dialect == "sqlite" else (lambda m: m)
    tables: list[Table] = [InspectionEventRow.__table__, AlertRow.__table__]  # type: ignore[list-item]
    secondary = [ix for table in tables for ix in table.indexes]
    with engine.begin() as conn:
        for ix in secondary:
            ix.drop(conn)
    rng = random.Random(7)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=90)
    switch = end - timedelta(days=30)
    span_s = int((end - start).total_seconds())
    cameras = [(f"line-{n}", f"cam-{n}{c}") for n in range(4) for c in range(4)]
    classes, weights = ["scratch", "dent", "crack", "stain", "missing"], [40, 25, 15, 12, 8]
    hourly: dict[tuple[Any, ...], list[int]] = {}
    received = when(datetime.now(UTC))
    done, chunk = 0, 200_000
    t0 = time.perf_counter()
    raw = engine.raw_connection()
    try:
        if dialect == "sqlite":
            raw.execute("PRAGMA cache_size=-262144")  # 256 MiB while loading
        while done < n_events:
            rows, alerts = [], []
            for _ in range(min(chunk, n_events - done)):
                line, cam = cameras[rng.randrange(16)]
                at = start + timedelta(seconds=rng.randrange(span_s))
                model_id, version, sha = _RELEASES[at >= switch]
                roll = rng.random()
                verdict, cls = "pass", None
                if roll >= 0.9:
                    verdict = "fail" if roll < 0.97 else "uncertain"
                    cls = rng.choices(classes, weights)[0]
                hour = at.replace(minute=0, second=0, microsecond=0)
                col = {"pass": 1, "fail": 2, "uncertain": 3}[verdict]
                for key_cls in (ALL_PARTS, cls) if cls else (ALL_PARTS,):
                    acc = hourly.setdefault(
                        ("plant-a", key_cls, line, cam, model_id, version, hour), [0, 0, 0, 0]
                    )
                    acc[0] += 1
                    acc[col] += 1
                regions = "[]" if cls is None else json.dumps([{"defect_class": cls}])
                event_id = f"evt_{done:012d}"
                rows.append(
                    (event_id, f"idk_{done}", f"node-{line}", "plant-a", line, "st-1", cam, None, done,
                     when(at), received, model_id, version, sha, verdict, 0.5, 0.5, regions, None, 10.0)
                )  # fmt: skip
                if done % 1000 == 0:
                    alerts.append(
                        (f"alr_{done:012d}", f"ida_{done}", f"node-{line}", "plant-a", line, cam, "defect",
                         "warning", when(at), received, b"scratch on a part", event_id, cls)
                    )  # fmt: skip
                done += 1
            _write_rows(raw, dialect, "inspection_events", _EVENT_COLUMNS, rows)
            _write_rows(raw, dialect, "alerts", _ALERT_COLUMNS, alerts)
            rate = done / (time.perf_counter() - t0)
            print(f"\r    filled {done:,}/{n_events:,} events ({rate:,.0f}/s)", end="", flush=True)
        print()
        daily: dict[tuple[Any, ...], list[int]] = {}
        for (*key, hour), counts in hourly.items():
            acc = daily.setdefault((*key, hour.replace(hour=0)), [0, 0, 0, 0])
            for i, n in enumerate(counts):
                acc[i] += n
        for table, time_column, data in (("rollup_hourly", "hour", hourly), ("rollup_daily", "day", daily)):
            _write_rows(
                raw, dialect, table, [*_ROLLUP_KEY, time_column, *_COUNTS],
                [(*k[:-1], when(k[-1]), *v) for k, v in data.items()],
            )  # fmt: skip
    finally:
        raw.close()
    t1 = time.perf_counter()
    with engine.begin() as conn:
        for ix in secondary:
            ix.create(conn)
        conn.execute(text("ANALYZE"))
    print(
        f"    rollup rows: {len(hourly):,} hourly, {len(daily):,} daily;"
        f" indexes built in {time.perf_counter() - t1:,.0f} s"
    )


def bench_queries(db_url: str, engine_name: str, n_events: int) -> dict[str, float]:
    from lineguard.server.protection import NoEncryption
    from lineguard.server.query import service
    from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head

    engine = create_engine_for(db_url)
    upgrade_to_head(engine)
    _fill(engine, n_events)
    now = datetime.now(UTC)
    week, quarter = now - timedelta(days=7), now - timedelta(days=90)
    v4 = {"model_id": "mdl_tile", "model_version": 4}
    queries = {
        "yield by line, hourly, 7 days": lambda s: service.quality_over_time(
            s, site_id="plant-a", start=week, end=now, bucket="hour", group_by="line", lines=None
        ),
        "yield by camera, daily, 90 days": lambda s: service.quality_over_time(
            s, site_id="plant-a", start=quarter, end=now, bucket="day", group_by="camera", lines=None
        ),
        "yield by line, daily, 90 days, release 4": lambda s: service.quality_over_time(
            s, site_id="plant-a", start=quarter, end=now, bucket="day", group_by="line", lines=None, **v4
        ),
        "defect rate by class, daily, 90 days": lambda s: service.defect_rate_by_class(
            s, site_id="plant-a", start=quarter, end=now, bucket="day", lines=None
        ),
        "Pareto, 90 days, 2 of 4 lines": lambda s: service.defect_pareto(
            s, site_id="plant-a", start=quarter, end=now, lines={"line-0", "line-1"}
        ),
        "recent alerts (50)": lambda s: service.recent_alerts(
            s, site_id="plant-a", lines=None, sealer=NoEncryption(), limit=50
        ),
        "recent alerts (50), release 3": lambda s: service.recent_alerts(
            s,
            site_id="plant-a",
            lines=None,
            sealer=NoEncryption(),
            limit=50,
            model_id="mdl_tile",
            model_version=3,
        ),
        "model versions seen": lambda s: service.model_versions_seen(s, site_id="plant-a", lines=None),
        "node health": lambda s: service.node_health(s, site_id="plant-a", lines=None),
    }
    out = {}
    with session_factory(engine)() as session:
        for name, run in queries.items():
            times, cpu = [], []
            for _ in range(5):
                t0, c0 = time.perf_counter(), time.process_time()
                run(session)
                times.append(1000 * (time.perf_counter() - t0))
                cpu.append(1000 * (time.process_time() - c0))
            out[name] = max(times[1:])
            # SQLite runs inside this process, so its CPU time is the query's own cost,
            # whatever else the machine is doing; with PostgreSQL it is only the client's.
            print(
                f"  {engine_name:10s} {name:42s} median {statistics.median(times):7.1f} ms"
                f"  worst-warm {max(times[1:]):7.1f} ms  (CPU here {statistics.median(cpu):6.1f} ms)",
                flush=True,
            )
    engine.dispose()
    return out


#: The benchmark's PostgreSQL is durable (unlike the test clusters): every commit waits
#: for its WAL to reach the disk. The rest gives the server memory for a 10 M-row table
#: and spaces checkpoints out so a load phase is not measured across one.
BENCH_PG_SETTINGS = {
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "shared_buffers": "512MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "30min",
    "maintenance_work_mem": "256MB",
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=10.0, help="Duration of each load phase.")
    parser.add_argument("--rate", type=float, default=5000.0, help="Paced target, events per second.")
    parser.add_argument(
        "--query-events", type=int, default=2_000_000, help="Events in the query benchmark table."
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="Server processes (http.workers); default 1 on SQLite (one writer), 2 on PostgreSQL.",
    )
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument(
        "--index-ab",
        type=int,
        metavar="ROUNDS",
        help="ingest cost of ingest_0009's index: ROUNDS of with (A) / without (B), audit + encryption on",
    )
    parser.add_argument("--skip-queries", action="store_true")
    parser.add_argument(
        "--split-cpu", action="store_true", help="server CPU per batch by route stage, and the rest"
    )
    parser.add_argument(
        "--profile-loop",
        type=int,
        default=0,
        metavar="N",
        help="cProfile the servers' event loop threads in the saturated phase; print the top N functions",
    )
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    print(
        f"bench_ingest: {os.cpu_count()} CPUs, batches of {BATCH}, {NODES} nodes over HTTPS+mTLS,"
        f" {args.seconds:g} s per phase"
    )
    for engine_name in engines:
        if engine_name == "sqlite":
            cluster = None
            factory = lambda root: f"sqlite:///{root / 'bench.db'}"  # noqa: E731
        else:
            from tests.support.postgres import postgres_cluster

            cluster = postgres_cluster(BENCH_PG_SETTINGS)
            base = cluster.__enter__()

            def factory(root: Path, base: str = base) -> str:
                import psycopg

                name = f"bench_{secrets.token_hex(6)}"
                with psycopg.connect(
                    base.replace("postgresql+psycopg://", "postgresql://") + "/postgres", autocommit=True
                ) as c:
                    c.execute(f'CREATE DATABASE "{name}"')
                return f"{base}/{name}"

        try:
            if not args.skip_ingest:
                workers = args.workers or (1 if engine_name == "sqlite" else 2)
                variants = index_ab(args.index_ab) if args.index_ab else ON_OFF
                bench_ingest(
                    factory,
                    engine_name,
                    args.seconds,
                    args.rate,
                    workers,
                    variants,
                    split_cpu=args.split_cpu,
                    profile_loop=args.profile_loop,
                )
            if not args.skip_queries:
                root = Path(tempfile.mkdtemp(prefix="lg-bench-q-"))
                try:
                    print(f"  {engine_name:10s} dashboard queries over {args.query_events:,} events")
                    bench_queries(factory(root), engine_name, args.query_events)
                finally:
                    shutil.rmtree(root, ignore_errors=True)
        finally:
            if cluster is not None:
                cluster.__exit__(None, None, None)


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--serve":
        mode = sys.argv[5]
        serve(
            Path(sys.argv[2]),
            sys.argv[3],
            int(sys.argv[4]),
            mode.startswith("on"),
            int(sys.argv[6]),
            without_index=mode.endswith("-noidx"),
        )
    else:
        main()
