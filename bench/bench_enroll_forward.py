"""Node enrollment and renewal forwarded by a replica without the CA key, against direct, in one run.

One process holds, on one PostgreSQL database, the two server replicas of a split CA:

* **direct** — the node reaches the issuer's HTTPS listener (it holds the CA key and signs);
* **forwarded** — the node reaches a non-issuer's HTTPS listener (``LINEGUARD_PKI_ISSUER=false``,
  no key file): it checks the request and forwards it over the internal mutual-TLS relay to
  the issuer's relay listener (``server/nodes/forward.py``), which signs.

Each round enrols one fresh node by each path and renews it once (the edge's own
``enroll`` / ``renew``: new key, CSR, proof of possession, the certificate saved), the two
paths alternating which goes first, so a change in the machine's load falls on both.
Reported per path and operation: p50 wall time, and CPU per operation: this process (node
client, both replicas, the relay) plus the PostgreSQL backends of the benchmark database,
from /proc (10 ms ticks: a mean over the rounds). The ratio forwarded / direct is the
figure to compare across machines; the 1-minute load average is printed with it.
Audit entries go to a no-op hook (the same on both paths).

    python bench/bench_enroll_forward.py              # 12 rounds
    python bench/bench_enroll_forward.py --rounds 4
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from pydantic import SecretStr  # noqa: E402
from sqlalchemy import Engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import bench_ingest as ingest  # noqa: E402 - CPU accounting from /proc
from lineguard.config.server import ServerConfig  # noqa: E402
from lineguard.contracts.audit import AuditEvent  # noqa: E402
from lineguard.edge.identity import enroll, renew  # noqa: E402
from lineguard.server.app import create_app  # noqa: E402
from lineguard.server.context import ServerContext  # noqa: E402
from lineguard.server.evidence_views.handoff import answer_peer  # noqa: E402
from lineguard.server.evidence_views.peers import PeerClient, PeerServer, RelayTls  # noqa: E402
from lineguard.server.evidence_views.shared import SharedRelay  # noqa: E402
from lineguard.server.nodes import issue_token  # noqa: E402
from lineguard.server.pki import PlantCa, ca_paths  # noqa: E402
from lineguard.server.protection import NoEncryption  # noqa: E402
from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head  # noqa: E402
from lineguard.server.tls import ServerThread  # noqa: E402

PATHS = ("direct", "forwarded")
OPS = ("enroll", "renew")
DB_NAME = "enroll_forward_bench"
PASSPHRASE = SecretStr("enroll forward bench CA passphrase")


def _no_audit(session: Session, event: AuditEvent, /, *, actor: str) -> None:
    """Audit entries are not what is measured (both paths write the same ones)."""


def _app(data_dir: Path, engine: Engine, *, ca: PlantCa | None) -> Any:
    settings = ServerConfig(kind="server", site_id="plant-a", data_dir=data_dir)
    return create_app(
        settings, engine=engine, sealer=NoEncryption(), audit=_no_audit, ca=ca, pki_issuer=ca is not None
    )


@contextmanager
def split_ca(db_url: str, root: Path) -> Iterator[tuple[Callable[[str], str], Callable[[], None], str, str]]:
    """The issuer and the non-issuer running; yields (token for a node id, the issuer's relay
    heartbeat, direct URL, forwarded URL)."""
    issuer_dir, non_issuer_dir = root / "issuer", root / "non-issuer"
    ca = PlantCa.create(issuer_dir, PASSPHRASE, site_id="plant-a")
    ca.issue_server_certificate(issuer_dir, names=["127.0.0.1", "localhost"])
    shutil.copytree(ca_paths(issuer_dir).directory, ca_paths(non_issuer_dir).directory)
    ca_paths(non_issuer_dir).key.unlink()  # the non-issuer host holds no CA key
    engine = create_engine_for(db_url)
    upgrade_to_head(engine)
    trust = ca_paths(issuer_dir).trust
    issuer_app, non_issuer_app = _app(issuer_dir, engine, ca=ca), _app(non_issuer_dir, engine, ca=None)
    issuer: ServerContext = issuer_app.state.lineguard
    issuer_shared = SharedRelay(issuer.sessions, replica_id="rep-issuer")
    relay_tls = RelayTls(ca.issue_replica_certificate(replica_id="rep-issuer", host="127.0.0.1"), trust)
    relay = PeerServer(relay_tls, partial(answer_peer, issuer, issuer_shared))
    relay_port = asyncio.run(relay.start("127.0.0.1", 0))

    def beat() -> None:
        """What the issuer's server loop does every few seconds: a row older than the liveness
        window is no issuer to the forwarder (the run lasts minutes)."""
        issuer_shared.heartbeat("127.0.0.1", relay_port, ca_role="leader")

    beat()
    forwarder: ServerContext = non_issuer_app.state.lineguard
    forwarder.evidence_views.shared = SharedRelay(forwarder.sessions, replica_id="rep-b")
    forwarder.evidence_views.peers = PeerClient(
        RelayTls(ca.issue_replica_certificate(replica_id="rep-b", host="127.0.0.1"), trust)
    )

    def token(node_id: str) -> str:
        with session_factory(engine)() as session:
            issued = issue_token(
                session,
                ca=ca,
                node_id=node_id,
                site_id="plant-a",
                line_id="line-1",
                camera_ids=["cam-1"],
                ttl=timedelta(minutes=30),
                created_by="cli:bench",
                audit=_no_audit,
            )
        return str(issued)

    def serve(app: Any, data_dir: Path) -> ServerThread:
        paths = ca_paths(data_dir)
        return ServerThread(app, cert_file=paths.server_cert, key_file=paths.server_key, ca_file=paths.trust)

    try:
        with serve(issuer_app, issuer_dir) as direct, serve(non_issuer_app, non_issuer_dir) as forwarded:
            yield token, beat, direct.url, forwarded.url
    finally:
        asyncio.run(relay.stop())
        engine.dispose()


def _cpu_s() -> float:
    """This process and the benchmark database's PostgreSQL backends, in seconds."""
    return sum(ingest.cpu_snapshot(os.getpid(), DB_NAME).values())


@dataclass(frozen=True)
class Sample:
    path: str  # "direct" or "forwarded"
    op: str  # "enroll" or "renew"
    wall_s: float
    #: This process and the benchmark database's PostgreSQL backends.
    cpu_s: float


def run(db_url: str, root: Path, rounds: int, max_seconds: float) -> list[Sample]:
    """``rounds`` nodes per path, each enrolled then renewed; the paths alternate which goes first."""
    samples: list[Sample] = []
    started = time.monotonic()
    with split_ca(db_url, root) as (token, beat, direct_url, forwarded_url):
        urls = {"direct": direct_url, "forwarded": forwarded_url}
        for i in range(rounds):
            if time.monotonic() - started > max_seconds:
                print(f"  stopped after {i} rounds (--max-seconds {max_seconds:.0f})", flush=True)
                break
            beat()  # outside what is measured
            for path in PATHS if i % 2 == 0 else tuple(reversed(PATHS)):
                node_dir = root / "nodes" / f"{path}-{i}"
                steps: tuple[tuple[str, Callable[[], object]], ...] = (
                    ("enroll", partial(enroll, urls[path], token(f"{path[0]}-{i}"), node_dir)),
                    ("renew", partial(renew, node_dir)),
                )
                for op, call in steps:
                    cpu_before, wall_before = _cpu_s(), time.perf_counter()
                    call()
                    samples.append(Sample(path, op, time.perf_counter() - wall_before, _cpu_s() - cpu_before))
    return samples


def summary(samples: list[Sample]) -> list[dict[str, Any]]:
    """Per (op, path): n, p50 wall ms, mean CPU ms; forwarded rows carry their ratios to direct."""
    rows: list[dict[str, Any]] = []
    for op in OPS:
        direct: dict[str, Any] | None = None
        for path in PATHS:
            mine = [s for s in samples if (s.op, s.path) == (op, path)]
            if not mine:
                continue
            row: dict[str, Any] = {
                "op": op,
                "path": path,
                "n": len(mine),
                "p50_wall_ms": statistics.median(s.wall_s for s in mine) * 1000,
                "cpu_ms": statistics.fmean(s.cpu_s for s in mine) * 1000,
            }
            if path == "direct":
                direct = row
            elif direct is not None:
                row["wall_ratio"] = row["p50_wall_ms"] / direct["p50_wall_ms"]
                row["cpu_ratio"] = row["cpu_ms"] / max(direct["cpu_ms"], 1e-9)
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=12, help="Nodes enrolled and renewed per path.")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="The run stops after this long.")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 500:
        parser.error("rounds must be 1..500")
    from tests.support.postgres import postgres_cluster

    print(f"bench_enroll_forward: {args.rounds} rounds, load {os.getloadavg()[0]:.1f}", flush=True)
    root = Path(tempfile.mkdtemp(prefix="lg-enroll-bench-"))
    try:
        with postgres_cluster() as base:
            import psycopg

            with psycopg.connect(base.replace("+psycopg", "") + "/postgres", autocommit=True) as c:
                c.execute(f'CREATE DATABASE "{DB_NAME}"')
            results = run(f"{base}/{DB_NAME}", root, args.rounds, args.max_seconds)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for row in summary(results):
        ratios = (
            f"; forwarded / direct: wall x{row['wall_ratio']:.2f}, CPU x{row['cpu_ratio']:.2f}"
            if "wall_ratio" in row
            else ""
        )
        print(
            f"  {row['op']:>6} {row['path']:>9} n={row['n']:3d}: p50 {row['p50_wall_ms']:7.1f} ms wall,"
            f" CPU {row['cpu_ms']:6.1f} ms (process + PostgreSQL){ratios}  (load {os.getloadavg()[0]:.1f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
