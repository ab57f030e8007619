"""Instructions per event of parsing one ingest request body (callgrind, load-independent).

``parse_message(IngestBatch, body)`` is what the HTTPS route and the MQTT consumer run on
the raw bytes: ``IngestBatch.model_validate_json``, pydantic-core's own JSON parser, no
``json.loads``. This counts it next to its alternatives on the ``bench_ingest`` bodies
(100 events per batch), each variant in its own process under valgrind's callgrind:

- ``json.loads``: the stdlib decode alone (dicts, no validation);
- ``from_json``: pydantic-core's JSON parser to plain Python objects, no validation;
- ``parse_message``: what the server runs (size check, ``model_validate_json``);
- ``loads+validate``: ``json.loads`` then ``model_validate`` of the dict.

    python bench/profile_parse.py --batches 10    # 1,000 events counted per variant

Counting starts after ``WARMUP`` batches (the validators' first-use costs) and runs with
``PYTHONHASHSEED=0``, between two callgrind client requests (profile_ingest's ``_Counter``;
needs ``cc`` and valgrind's headers). A variant takes ~10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_ingest as ingest  # noqa: E402 - the same synthetic events as the HTTP benchmark
from profile_ingest import _Counter, count_in_child  # noqa: E402

VARIANTS = ("json.loads", "from_json", "parse_message", "loads+validate")
WARMUP = 5


def _bodies(count: int) -> list[bytes]:
    node = "bench-node-0"
    rng = random.Random(7)
    start = datetime.now(UTC)
    bodies = []
    for b in range(count):
        at = start + timedelta(milliseconds=b)
        events = [
            ingest._event(node, f"{node}-cam{i % 2}", "line-0", at + i * ingest.EVENT_SPACING, rng)
            for i in range(ingest.BATCH)
        ]
        bodies.append(json.dumps({"node_id": node, "sent_at": at.isoformat(), "events": events}).encode())
    return bodies


def _variant(name: str) -> Callable[[bytes], Any]:
    import pydantic_core

    from lineguard.contracts.events import IngestBatch
    from lineguard.contracts.validation import parse_message

    return {
        "json.loads": json.loads,
        "from_json": pydantic_core.from_json,
        "parse_message": lambda body: parse_message(IngestBatch, body),
        "loads+validate": lambda body: IngestBatch.model_validate(json.loads(body)),
    }[name]


def _child(name: str, batches: int, library: Path) -> None:
    parse = _variant(name)
    bodies = _bodies(WARMUP + batches)
    for body in bodies[:WARMUP]:
        parse(body)
    counter = _Counter(library)
    counter.start()
    for body in bodies[WARMUP:]:
        parse(body)
    counter.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=10, help="batches of 100 events counted per variant")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--library", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child, args.batches, args.library)
        return
    import lineguard

    events = args.batches * ingest.BATCH
    with tempfile.TemporaryDirectory(prefix="lg-parse-") as tmp:
        library = _Counter.build(Path(tmp))
        counts = {
            name: count_in_child(Path(__file__), "--child", name, args.batches, library, Path(tmp)) / events
            for name in VARIANTS
        }
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"parse instructions per event (callgrind Ir), load average {load} ({lineguard.__file__})")
    for name in VARIANTS:
        print(f"  {name:15s} {counts[name] / 1000:7.1f}k")


if __name__ == "__main__":
    main()
