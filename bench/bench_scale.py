"""Scale-out benchmark: N simulated edge nodes against 1 and 2 server replicas on one PostgreSQL.

Each replica is a real server process (``bench_ingest.serve``: uvicorn, HTTPS, mTLS,
audit + envelope encryption on) sharing one ``data_dir`` (keyring, CA, audit key) and
one durable PostgreSQL database, as docs/deployment.md lays them out; there is no
balancer process here, the simulator spreads the nodes over the replicas round-robin,
which is what a TCP balancer does with the nodes' keep-alive connections. Each node is a
thread with one persistent mTLS connection that sends, once per ``--interval-s``, one
batch of ``--events`` inspection events (a line of ``--events / --interval-s`` parts per
second). Bounded and loopback only: every run lasts ``--seconds``.

Reported per (replicas, N): events/s sustained against events/s offered, p50/p99 request
latency, server + database CPU per 1,000 events (all replica processes and the
PostgreSQL backends of the benchmark database), and the machine's 1-minute load average
before and at the end of the run (the machine is shared: a high "before" is other work).
On a shared 2-core machine the curves and ratios are the point, not the absolute numbers.

    python bench/bench_scale.py                                   # N = 10, 50, 200; 1, 2 and 4 replicas
    python bench/bench_scale.py --nodes 10,50 --replicas 1 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_ingest as ingest  # noqa: E402 - the server process, enrolment and CPU accounting


def _node(
    url: str, node: str, node_dir: Path, args: argparse.Namespace, start_at: float, out: list[Any]
) -> None:
    import http.client
    import random
    from urllib.parse import urlsplit

    from lineguard.edge.identity import node_ssl_context

    parts = urlsplit(url)
    conn = http.client.HTTPSConnection(
        parts.hostname, parts.port, context=node_ssl_context(node_dir), timeout=60
    )
    conn.request("GET", "/api/v1/enroll/ca")
    conn.getresponse().read()
    rng = random.Random(node)
    line = "line-" + node.rsplit("-", 1)[1]
    n_batches = int(args.seconds / args.interval_s)
    bodies = []
    for _ in range(n_batches):
        now = datetime.now(UTC)
        events = [ingest._event(node, f"{node}-cam{i % 2}", line, now, rng) for i in range(args.events)]
        bodies.append(json.dumps({"node_id": node, "sent_at": now.isoformat(), "events": events}).encode())
    latencies: list[float] = []
    errors = 0
    phase = rng.random() * args.interval_s  # independent lines are not synchronised
    while time.time() < start_at:
        time.sleep(0.005)
    begin = time.perf_counter()
    for i, body in enumerate(bodies):
        due = begin + phase + i * args.interval_s
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        t0 = time.perf_counter()
        try:
            conn.request(
                "POST", "/api/v1/ingest/batch", body=body, headers={"content-type": "application/json"}
            )
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):  # timed out or dropped: counted, then a new connection
            ok = False
            conn.close()
        latencies.append(time.perf_counter() - t0)
        errors += not ok
    conn.close()
    out.append((latencies, errors, time.perf_counter() - begin))


def _run(
    urls: list[str], nodes: list[tuple[str, Path]], pids: list[int], db: str, args: argparse.Namespace
) -> dict[str, float]:
    out: list[Any] = []
    start_at = time.time() + 3.0
    threads = [
        threading.Thread(target=_node, args=(urls[i % len(urls)], node, node_dir, args, start_at, out))
        for i, (node, node_dir) in enumerate(nodes)
    ]
    load_before = os.getloadavg()[0]
    for thread in threads:
        thread.start()
    while time.time() < start_at:
        time.sleep(0.01)
    before: dict[int, float] = {}
    for pid in pids:
        before.update(ingest.cpu_snapshot(pid, db))
    for thread in threads:
        thread.join(args.seconds + 120)
    after: dict[int, float] = {}
    for pid in pids:
        after.update(ingest.cpu_snapshot(pid, db))
    cpu_s = sum(after[p] - before.get(p, 0.0) for p in after)
    latencies = sorted(x for lat, _, _ in out for x in lat)
    elapsed = max((e for _, _, e in out), default=args.seconds)
    errors = sum(e for _, e, _ in out)
    events = (len(latencies) - errors) * args.events  # acknowledged ones only
    return {
        "offered_eps": len(nodes) * args.events / args.interval_s,
        "events_per_s": events / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "errors": errors,
        "cpu_ms_per_1000_events": 1000 * 1000 * cpu_s / max(events, 1),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", default="10,50,200", help="Comma-separated node counts.")
    parser.add_argument("--replicas", default="1,2,4", help="Comma-separated replica counts.")
    parser.add_argument("--seconds", type=float, default=8.0, help="Length of each run (bounded).")
    parser.add_argument("--interval-s", type=float, default=1.0, help="Each node sends a batch this often.")
    parser.add_argument("--events", type=int, default=5, help="Events per batch (parts seen per interval).")
    args = parser.parse_args()
    counts = [int(n) for n in args.nodes.split(",")]
    from tests.support.postgres import postgres_cluster

    ingest.os.environ.update(ingest.ENV)
    print(f"bench_scale: {args.events} events / {args.interval_s:g} s per node, {args.seconds:g} s per run")
    with postgres_cluster(ingest.BENCH_PG_SETTINGS) as base:
        for replicas in [int(r) for r in args.replicas.split(",")]:
            root = Path(tempfile.mkdtemp(prefix=f"lg-scale-{replicas}-"))
            try:
                import psycopg

                db = f"scale_{secrets.token_hex(6)}"
                with psycopg.connect(base.replace("+psycopg", "") + "/postgres", autocommit=True) as c:
                    c.execute(f'CREATE DATABASE "{db}"')
                from lineguard.server.admin import init_ca

                settings = ingest._settings(root / "server", f"{base}/{db}", 0)
                init_ca(settings)
                with ExitStack() as stack:
                    servers = [
                        stack.enter_context(ingest.server_process(root / "server", f"{base}/{db}", True, 1))
                        for _ in range(replicas)  # one after the other: the first migrates
                    ]
                    ingest.NODES = max(counts)
                    nodes = ingest._enroll_nodes(settings, servers[0][0], root)
                    urls, pids = [u for u, _ in servers], [p for _, p in servers]
                    for n in counts:
                        r = _run(urls, nodes[:n], pids, db, args)
                        print(
                            f"  replicas {replicas}  nodes {n:4d}: offered {r['offered_eps']:6.0f} ev/s, "
                            f"sustained {r['events_per_s']:6.0f} ev/s, p50 {r['p50_ms']:6.1f} ms, "
                            f"p99 {r['p99_ms']:6.1f} ms, server+db CPU {r['cpu_ms_per_1000_events']:6.0f} ms"
                            f" per 1000 events, errors {r['errors']}, load {r['load_before']:.1f}"
                            f" -> {r['load_after']:.1f}",
                            flush=True,
                        )
            finally:
                shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
