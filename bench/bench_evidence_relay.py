"""Evidence-view hand-off across two server replicas against the same-replica path, in one run.

Two real ``lineguard server`` processes (A and B, ``http.replicas: 2``) share one
PostgreSQL and one ``data_dir``, as tests/integration/test_evidence_relay_replicas.py
starts them. A person's browser signs in on A and opens every view there (A owns it). The
node is already waiting in a long poll when the view opens, then uploads its signed,
redacted JPEG, and the browser fetches the image from A:

* **same replica** — the node long-polls and uploads on A: the image never leaves A;
* **relayed** — the node long-polls and uploads on B: B is woken by NOTIFY, checks the
  upload and hands the bytes to A over the internal mutual-TLS relay.

The two paths alternate hand-off by hand-off, so a change in the machine's load falls on
both. For each image size (100 KB, 1 MB, and the largest a node may send, 8 MiB) it
reports p50/p99 of open -> delivered (the view opened until the browser holds the image)
and of the fetch alone, and server CPU per hand-off: both replica processes and the
PostgreSQL backends of the benchmark database, read from /proc (10 ms ticks, so a mean
over the hand-offs); the node's and the browser's work (this process) is not counted. The
1-minute load average is printed beside every row; the ratio relayed / same replica is the
figure to compare across machines. Bounded and loopback only: ``--views`` hand-offs per
path and size, and the whole run stops after ``--max-seconds``.

    python bench/bench_evidence_relay.py                       # 12 hand-offs per path and size
    python bench/bench_evidence_relay.py --views 4 --sizes 100k
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import cv2  # noqa: E402
import httpx  # noqa: E402
import numpy as np  # noqa: E402

import bench_ingest as ingest  # noqa: E402 - CPU accounting from /proc

SIZES = {"100k": 100 * 1000, "1m": 1000 * 1000, "max": 0}  # 0: MAX_EVIDENCE_JPEG_BYTES
PATHS = ("same", "relayed")
ENV = {
    "LINEGUARD_CA_PASSPHRASE": "relay bench ca passphrase",
    "LINEGUARD_KEYRING_PASSPHRASE": "relay bench keyring passphrase",
}
#: Time the node's long poll is given to reach the server and park before a view opens.
PARK_S = 0.3


@dataclass(frozen=True)
class HandOff:
    size: str
    path: str
    image_bytes: int
    open_to_delivered_ms: float
    fetch_ms: float
    server_cpu_ms: float
    #: The machine's 1-minute load average when the hand-off ended (shared machine).
    load_1m: float


def noise_image(target_bytes: int, quality: int, limit: int) -> np.ndarray:
    """A noise image whose JPEG at ``quality`` is about ``target_bytes`` and at most ``limit``."""
    rng = np.random.default_rng(7)

    def encoded(side: int) -> tuple[np.ndarray, int]:
        image = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        return image, len(data)

    side = 256
    image, size = encoded(side)
    for _ in range(4):  # bytes grow with pixels: a few rescalings land close
        side = max(16, int(side * math.sqrt(target_bytes / size)))
        image, size = encoded(side)
    while size > limit:
        side = int(side * 0.99)
        image, size = encoded(side)
    return image


class Replicas:
    """A and B started as the integration test starts them, a node and a person seeded."""

    def __init__(self, root: Path, db_url: str) -> None:
        from tests.support.evidence_views import seeded, sign_in
        from tests.support.replicas import CHEAP_AUTH, free_port, replica_config, start_replica
        from tests.unit.crypto.conftest import make_test_keyring

        from lineguard.config import load_server_config
        from lineguard.server.admin import init_ca
        from lineguard.server.app import create_app

        os.environ.update(ENV)
        self.db_name = db_url.rsplit("/", 1)[1]
        pa, pb = free_port(), free_port()
        configs = [replica_config(root, db_url, port, sections={**CHEAP_AUTH}) for port in (pa, pb)]
        settings = load_server_config(configs[1])
        init_ca(settings)
        make_test_keyring(configs[1])
        self.urls = {"A": f"https://127.0.0.1:{pa}", "B": f"https://127.0.0.1:{pb}"}
        self.processes = []
        for config, port, name in zip(configs, (pa, pb), "AB", strict=True):  # A first: it migrates
            self.processes.append(start_replica(config, port, root / f"replica-{name}.log", ENV))
        self.app = create_app(settings)  # not served: its services seed the shared database
        self.plant, self.node = seeded(self.app.state.lineguard, self.urls["B"], root)
        self.browser, self.csrf = sign_in(self.plant, self.urls["A"])

    def cpu(self) -> dict[int, float]:
        snapshot: dict[int, float] = {}
        for process in self.processes:
            snapshot.update(ingest.cpu_snapshot(process.pid, self.db_name))
        return snapshot

    def cpu_since(self, before: dict[int, float]) -> float:
        after = self.cpu()
        return sum(after[p] - before.get(p, 0.0) for p in after)

    def close(self) -> None:
        self.browser.close()
        self.node.store.close()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=30)


def _node_answers(client: httpx.Client, store: Any) -> None:
    """The node's side of one hand-off: the parked long poll, then its signed upload."""
    from lineguard.contracts.evidence_view import EvidenceViewRequests
    from lineguard.edge.evidence.remote_view import REQUESTS_PATH, HourlyLimit, build_reply

    polled = client.get(REQUESTS_PATH, params={"wait": 20}, timeout=40)
    polled.raise_for_status()
    [request] = EvidenceViewRequests.model_validate_json(polled.content).requests
    reply = build_reply(store, request, HourlyLimit(100_000))
    answer = client.post(
        f"{REQUESTS_PATH}/{request.request_id}",
        content=reply.model_dump_json().encode(),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    if not answer.is_success:  # 204: checked and handed to the view's owner
        msg = f"the upload answered {answer.status_code}: {answer.text[:300]}"
        raise RuntimeError(msg)


def hand_off(
    replicas: Replicas, node_client: httpx.Client, pool: ThreadPoolExecutor, image: np.ndarray
) -> tuple[float, float, float, int]:
    """One view: (open -> delivered ms, fetch ms, server CPU ms, image bytes)."""
    from tests.support.evidence_views import open_view, record

    event_id, evidence_ref = record(replicas.plant, replicas.node, image)
    expected = replicas.node.store.read(evidence_ref)
    node: Future[None] = pool.submit(_node_answers, node_client, replicas.node.store)
    time.sleep(PARK_S)
    cpu_before = replicas.cpu()
    opened = time.perf_counter()
    url = open_view(replicas.browser, replicas.csrf, event_id)
    node.result(timeout=120)
    while True:  # the upload returned, so the owner holds the image: normally one fetch
        fetch_started = time.perf_counter()
        shown = replicas.browser.get(url)
        done = time.perf_counter()
        if shown.status_code != 202 or done - opened > 60:
            break
        time.sleep(0.005)
    cpu_ms = replicas.cpu_since(cpu_before) * 1000
    if shown.status_code != 200 or shown.content != expected:
        msg = f"the view answered {shown.status_code} ({len(shown.content)} bytes): {shown.text[:200]}"
        raise RuntimeError(msg)
    return (done - opened) * 1000, (done - fetch_started) * 1000, cpu_ms, len(expected)


def run(db_url: str, root: Path, sizes: list[str], views: int, max_seconds: float) -> list[HandOff]:
    """Every hand-off measured, the two paths alternating; stops after ``max_seconds``."""
    from lineguard.contracts.evidence_view import MAX_EVIDENCE_JPEG_BYTES
    from lineguard.edge.identity import https_client

    replicas = Replicas(root, db_url)
    results: list[HandOff] = []
    stop_at = time.monotonic() + max_seconds
    try:
        quality = replicas.node.store.jpeg_quality
        with (
            https_client(replicas.node.data_dir, replicas.urls["A"]) as on_a,
            https_client(replicas.node.data_dir, replicas.urls["B"]) as on_b,
            ThreadPoolExecutor(1, thread_name_prefix="node") as pool,
        ):
            clients = {"same": on_a, "relayed": on_b}
            for size in sizes:
                target = SIZES[size] or MAX_EVIDENCE_JPEG_BYTES
                image = noise_image(target, quality, MAX_EVIDENCE_JPEG_BYTES)
                for _ in range(views):
                    for path in PATHS:
                        if time.monotonic() > stop_at:
                            return results
                        total, fetch, cpu, nbytes = hand_off(replicas, clients[path], pool, image)
                        results.append(HandOff(size, path, nbytes, total, fetch, cpu, os.getloadavg()[0]))
    finally:
        replicas.close()
    return results


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary(results: list[HandOff]) -> list[dict[str, Any]]:
    """Per size and path: n, bytes, p50/p99 open -> delivered and fetch, mean server CPU."""
    rows = []
    for size in dict.fromkeys(r.size for r in results):
        for path in PATHS:
            mine = [r for r in results if r.size == size and r.path == path]
            if not mine:
                continue
            total, fetch = [r.open_to_delivered_ms for r in mine], [r.fetch_ms for r in mine]
            rows.append(
                {
                    "size": size,
                    "path": path,
                    "n": len(mine),
                    "image_bytes": mine[0].image_bytes,
                    "p50_open_to_delivered_ms": statistics.median(total),
                    "p99_open_to_delivered_ms": _pct(total, 0.99),
                    "p50_fetch_ms": statistics.median(fetch),
                    "p99_fetch_ms": _pct(fetch, 0.99),
                    "server_cpu_ms_per_handoff": statistics.fmean(r.server_cpu_ms for r in mine),
                    "load_1m": statistics.fmean(r.load_1m for r in mine),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100k,1m,max", help=f"Comma-separated, of {', '.join(SIZES)}.")
    parser.add_argument("--views", type=int, default=12, help="Hand-offs per path and size.")
    parser.add_argument("--max-seconds", type=float, default=240.0, help="The run stops after this long.")
    parser.add_argument("--json", type=Path, help="Also write every hand-off and the summary here.")
    args = parser.parse_args()
    sizes = [s for s in args.sizes.split(",") if s]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown or not 1 <= args.views <= 200:
        parser.error(f"sizes must be of {list(SIZES)} (got {unknown}) and views 1..200")
    from tests.support.postgres import postgres_cluster

    load_before = os.getloadavg()[0]
    print(
        f"bench_evidence_relay: {args.views} hand-offs per path and size, load {load_before:.1f}", flush=True
    )
    root = Path(tempfile.mkdtemp(prefix="lg-relay-bench-"))
    try:
        with postgres_cluster() as base:
            import psycopg

            with psycopg.connect(base.replace("+psycopg", "") + "/postgres", autocommit=True) as c:
                c.execute('CREATE DATABASE "relay_bench"')
            results = run(f"{base}/relay_bench", root, sizes, args.views, args.max_seconds)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rows = summary(results)
    same = {r["size"]: r for r in rows if r["path"] == "same"}
    for row in rows:
        base_row = same.get(row["size"])
        ratio = (
            f"  x{row['p50_open_to_delivered_ms'] / base_row['p50_open_to_delivered_ms']:.2f} p50,"
            f" x{row['server_cpu_ms_per_handoff'] / max(base_row['server_cpu_ms_per_handoff'], 1e-9):.2f} CPU"
            if base_row and row["path"] != "same"
            else ""
        )
        print(
            f"  {row['size']:>4} ({row['image_bytes']:>8} B) {row['path']:>7} n={row['n']:3d}: "
            f"open->delivered p50 {row['p50_open_to_delivered_ms']:7.1f} ms"
            f" p99 {row['p99_open_to_delivered_ms']:7.1f};"
            f" fetch p50 {row['p50_fetch_ms']:6.1f} p99 {row['p99_fetch_ms']:6.1f};"
            f" server CPU {row['server_cpu_ms_per_handoff']:6.1f} ms/hand-off{ratio}"
            f"  (load {row['load_1m']:.1f})",
            flush=True,
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "hand_offs": [asdict(r) for r in results],
                    "summary": rows,
                    "load_before": load_before,
                }
            )
        )


if __name__ == "__main__":
    main()
