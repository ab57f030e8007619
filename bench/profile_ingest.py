"""Where the cost of audit + encryption per ingested event goes: ``ingest_batch`` in process.

No HTTP, no TLS, no client: the storage path alone on SQLite (the ``bench_ingest
--engine sqlite`` server's), run twice in one invocation — audit + envelope encryption
**on** (the default server: ``open_envelope`` over a file keyring, ``AuditRecorder``) and
**off** (``NoEncryption``, ``AuditRecorder(enabled=False)``) — and reported as CPU
microseconds per event, their ratio, and the functions whose own time differs most
between the two (cProfile, ``tottime``), so the extra cost per event is named.

    python bench/profile_ingest.py --batches 200          # 200 batches of 100 events each
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_ingest as ingest  # noqa: E402 - the same synthetic events as the HTTP benchmark


def _run(root: Path, protected: bool, batches: int) -> tuple[float, pstats.Stats]:
    import random

    from pydantic import SecretStr

    from lineguard.config.server import ServerConfig
    from lineguard.contracts.events import IngestBatch
    from lineguard.crypto import KdfParams, Keyring, keyring_path
    from lineguard.server.audit import AuditRecorder
    from lineguard.server.ingest import service
    from lineguard.server.keystore import open_envelope
    from lineguard.server.nodes import NodeIdentity
    from lineguard.server.protection import NoEncryption
    from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head

    settings = ServerConfig(kind="server", site_id="plant-a", data_dir=root)
    engine = create_engine_for(f"sqlite:///{root / 'bench.db'}")
    upgrade_to_head(engine)
    sessions = session_factory(engine)
    if protected:
        keys = Keyring.create(
            keyring_path(root), SecretStr("bench passphrase " * 2), kdf=KdfParams.insecure_for_tests()
        )
        sealer, audit = open_envelope(settings, sessions, keys=keys), AuditRecorder()
    else:
        sealer, audit = NoEncryption(), AuditRecorder(enabled=False)
    node = NodeIdentity(
        "bench-node-0", "plant-a", "line-0", frozenset({"bench-node-0-cam0", "bench-node-0-cam1"}), "1"
    )
    rng = random.Random(7)
    start = datetime.now(UTC)
    parsed = []
    for b in range(batches):
        at = start + timedelta(milliseconds=b)
        events = [
            ingest._event(node.node_id, f"{node.node_id}-cam{i % 2}", "line-0", at, rng)
            for i in range(ingest.BATCH)
        ]
        parsed.append(
            IngestBatch.model_validate_json(
                json.dumps({"node_id": node.node_id, "sent_at": at.isoformat(), "events": events})
            )
        )
    profiler = cProfile.Profile()
    cpu0 = time.process_time()
    profiler.enable()
    for batch in parsed:
        with sessions() as session:
            service.ingest_batch(session, node=node, batch=batch, sealer=sealer, audit=audit)
    profiler.disable()
    cpu_us_per_event = 1e6 * (time.process_time() - cpu0) / (batches * ingest.BATCH)
    engine.dispose()
    return cpu_us_per_event, pstats.Stats(profiler, stream=io.StringIO())


def _own_time(stats: pstats.Stats) -> dict[str, float]:
    table: dict[str, float] = {}
    for (path, line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        key = f"{Path(path).name}:{line}({name})"
        table[key] = table.get(key, 0.0) + tottime
    return table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    results = {}
    for protected in (False, True):
        with tempfile.TemporaryDirectory(prefix="lg-profile-") as tmp:
            results[protected] = _run(Path(tmp), protected, args.batches)
    (off_us, off_stats), (on_us, on_stats) = results[False], results[True]
    events = args.batches * ingest.BATCH
    print(
        f"ingest_batch on SQLite, {args.batches} batches x {ingest.BATCH} events (profiler on in both runs)"
    )
    print(f"  CPU per event: off {off_us:6.1f} us, on {on_us:6.1f} us, on/off {on_us / off_us:.2f}")
    off_t, on_t = _own_time(off_stats), _own_time(on_stats)
    extra = sorted(((on_t.get(k, 0.0) - off_t.get(k, 0.0), k) for k in set(on_t) | set(off_t)), reverse=True)
    print(f"  where the extra {on_us - off_us:.1f} us per event goes (own time per event, on minus off):")
    for delta, key in extra[: args.top]:
        print(f"    {1e6 * delta / events:7.2f} us  {key}")


if __name__ == "__main__":
    main()
