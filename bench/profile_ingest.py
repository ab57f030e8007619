"""Where the cost of audit + encryption per ingested event goes: ``ingest_batch`` in process.

No HTTP, no TLS, no client: the storage path alone on SQLite (the ``bench_ingest
--engine sqlite`` server's), run twice in one invocation — audit + envelope encryption
**on** (the default server: ``open_envelope`` over a file keyring, ``AuditRecorder``) and
**off** (``NoEncryption``, ``AuditRecorder(enabled=False)``) — and reported as CPU
microseconds per event, their ratio, and the functions whose own time differs most
between the two (cProfile, ``tottime``), so the extra cost per event is named.

    python bench/profile_ingest.py --batches 200          # 200 batches of 100 events each
    python bench/profile_ingest.py --split --batches 200  # the extra cost split, no profiler
    python bench/profile_ingest.py --gc --batches 200     # the server's GC threshold vs Python's
    python bench/profile_ingest.py --bytes --batches 100  # bytes per event: rows, indexes, WAL
    python bench/profile_ingest.py --instructions --batches 10 --repeat 2   # steady: instructions

``--split`` runs, without the profiler, five servers taking turns ``--repeat`` times
(the fastest of each is kept: on a shared machine the minimum is the least disturbed):
**off**; **audit only** (the audit entry per batch, no encryption); **sealing only**
(every part id sealed under its own data key, the data-key rows not written);
**sealing + data-key rows** (audit off); **on** (the default server). The differences
name what each piece costs per event.

``--bytes`` stores ``--batches`` batches with audit + encryption on and off and reports
bytes per event: the WAL written (automatic checkpoints off for the run, so the WAL holds
every frame the batches wrote), the database file after a checkpoint, each table's and
index's pages (SQLite's ``dbstat``), and the sealed part id's length. Bytes do not depend
on the machine's load; run it against another tree (``PYTHONPATH=<tree>/src``) to compare.

``--instructions`` is the CPU measure that does not move with the machine's load (time on
these shared VMs swings ×1.5 between runs, and the VM has no hardware counters: ``perf stat
-e instructions:u`` says ``<not supported>``). Each server of ``--servers`` (``--split``'s
names) runs in its own process under valgrind's callgrind, which
counts user-space instructions only between two client requests around the measured
batches (a 3-line C helper compiled with ``cc`` at run time; needs valgrind's headers),
after ``WARMUP_BATCHES``, with ``PYTHONHASHSEED=0``. Repeats agree within ~0.1 % (0.4 %
across invocations); callgrind runs ~50× slower, so keep ``--batches`` small (10 = 1,000
events, about a minute each).

Since 2026-12-07 "on" seals inspection events' part ids under one data key per line and
hour (``lineguard.server.keystore.buckets``): the "one key per batch" prototype this
benchmark carried before measured that design and is gone; compare with an older tree
(``PYTHONPATH=<tree>/src``) for per-field keys.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from tests.support.gc_freeze import freeze_what_is_alive  # noqa: E402

import bench_ingest as ingest  # noqa: E402 - the same synthetic events as the HTTP benchmark

#: ``--split``'s servers, in order: name → (sealing, data-key rows written, audit).
SPLIT = {
    "off": (False, False, False),
    "audit only": (False, False, True),
    "sealing only": (True, False, False),
    "sealing + key rows": (True, True, False),
    "on": (True, True, True),
}


@contextlib.contextmanager
def _frozen_heap(young_threshold: int) -> Iterator[None]:
    """The heap frozen as the server freezes it once started, with this youngest-generation
    threshold; the caller's collector as it was afterwards. A caller that had frozen its own
    heap (a pytest worker does, tests/support/gc_freeze.py) gets what is alive frozen again:
    ``gc.unfreeze`` cannot tell its objects from ours (CI's test_gc_freeze failed once when
    the worker's freeze was taken away)."""
    threshold, frozen_before = gc.get_threshold(), gc.get_freeze_count()
    freeze_what_is_alive()
    gc.set_threshold(young_threshold, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
        if frozen_before:
            freeze_what_is_alive()


def _server_collector() -> contextlib.AbstractContextManager[None]:
    from lineguard.server.tls.serve import GC_YOUNG_THRESHOLD

    return _frozen_heap(GC_YOUNG_THRESHOLD)


def _run(
    root: Path,
    protected: bool,
    batches: int,
    *,
    split: tuple[bool, bool, bool] | None = None,
    sizes: dict[str, float] | None = None,
    counter: _Counter | None = None,
    warmup: int = 0,
    server_gc: bool = False,
    same_time: bool = False,
) -> tuple[float, pstats.Stats | None]:
    """CPU µs per event of ``batches`` through ``ingest_batch``, and its profile.

    ``split`` (sealing, key rows, audit) replaces ``protected`` and runs unprofiled.
    ``sizes``: filled with bytes per event (``--bytes``); ``counter``: started and stopped
    around the batches (``--instructions``: callgrind counts only between the two).
    ``server_gc``: after the warm-up, the collector set as a server process sets it (the
    heap frozen, the server's threshold), restored after. ``same_time``: every event of a
    batch at the batch's time, as before 2026-12-07 15:00 (else ``EVENT_SPACING`` apart)."""
    import random

    from pydantic import SecretStr

    from lineguard.config.server import ServerConfig
    from lineguard.contracts.events import IngestBatch
    from lineguard.crypto import Envelope, KdfParams, Keyring, keyring_path
    from lineguard.server.audit import AuditRecorder
    from lineguard.server.ingest import service
    from lineguard.server.keystore import BUCKETED_CATEGORIES, open_envelope
    from lineguard.server.nodes import NodeIdentity
    from lineguard.server.protection import NoEncryption
    from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head

    settings = ServerConfig(kind="server", site_id="plant-a", data_dir=root)
    engine = create_engine_for(f"sqlite:///{root / 'bench.db'}")
    upgrade_to_head(engine)
    if sizes is not None:
        _no_autocheckpoint(engine)
    sessions = session_factory(engine)
    seal, key_rows, audited = split if split is not None else (protected, protected, protected)
    sealer: Any = NoEncryption()
    if seal:
        keys = Keyring.create(
            keyring_path(root), SecretStr("bench passphrase " * 2), kdf=KdfParams.insecure_for_tests()
        )
        # Without key rows: the same envelope over a store that only collects (not the
        # server's SqlDataKeyStore, so ingest has no data-key rows to write).
        sealer = (
            open_envelope(settings, sessions, keys=keys)
            if key_rows
            else Envelope(keys, _Collected(), bucketed=BUCKETED_CATEGORIES)
        )
    audit = AuditRecorder(enabled=audited)
    node = NodeIdentity(
        "bench-node-0", "plant-a", "line-0", frozenset({"bench-node-0-cam0", "bench-node-0-cam1"}), "1"
    )
    rng = random.Random(7)
    start = datetime.now(UTC)
    parsed = []
    for b in range(warmup + batches):
        step = timedelta() if same_time else ingest.EVENT_SPACING
        # Batches follow one another as on a line (each starts where the last ended), so the
        # time indexes take rows at their end (bench_ingest._CLOCK says why).
        at = start + timedelta(milliseconds=b) if same_time else start + b * ingest.BATCH * step
        events = [
            ingest._event(node.node_id, f"{node.node_id}-cam{i % 2}", "line-0", at + i * step, rng)
            for i in range(ingest.BATCH)
        ]
        parsed.append(
            IngestBatch.model_validate_json(
                json.dumps({"node_id": node.node_id, "sent_at": at.isoformat(), "events": events})
            )
        )
    for batch in parsed[:warmup]:  # compiled statements cached, lazy imports done
        with sessions() as session:
            service.ingest_batch(session, node=node, batch=batch, sealer=sealer, audit=audit)
    parsed = parsed[warmup:]
    profiler = cProfile.Profile()
    with _server_collector() if server_gc else contextlib.nullcontext():
        cpu0 = time.process_time()
        if split is None:
            profiler.enable()
        if counter is not None:
            counter.start()
        for batch in parsed:
            with sessions() as session:
                service.ingest_batch(session, node=node, batch=batch, sealer=sealer, audit=audit)
        if counter is not None:
            counter.stop()
        profiler.disable()
        cpu_us_per_event = 1e6 * (time.process_time() - cpu0) / (batches * ingest.BATCH)
    if sizes is not None:
        sizes.update(_sizes(engine, root / "bench.db", batches * ingest.BATCH))
    engine.dispose()
    if split is not None:
        return cpu_us_per_event, None
    return cpu_us_per_event, pstats.Stats(profiler, stream=io.StringIO())


class _Counter:
    """Callgrind's client requests, from a 3-line C helper built here: start and stop counting.

    Outside valgrind the requests are no-ops. Needs a C compiler and valgrind's headers."""

    SOURCE = (
        "#include <valgrind/callgrind.h>\n"
        "void lg_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }\n"
        "void lg_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; }\n"
    )

    def __init__(self, library: Path) -> None:
        import ctypes

        self._lib = ctypes.CDLL(str(library))

    @classmethod
    def build(cls, folder: Path) -> Path:
        import subprocess

        source, library = folder / "lg_callgrind.c", folder / "lg_callgrind.so"
        source.write_text(cls.SOURCE)
        subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(library), str(source)], check=True)
        return library

    def start(self) -> None:
        self._lib.lg_start()

    def stop(self) -> None:
        self._lib.lg_stop()


#: ``--instructions``: batches ingested before counting starts (statement cache, lazy imports).
WARMUP_BATCHES = 5


def _instructions_child(name: str, batches: int, library: Path, gc_mode: str, same_time: bool) -> None:
    """Run under callgrind by ``_instructions``: one server, the batches counted."""
    with tempfile.TemporaryDirectory(prefix="lg-profile-") as tmp:
        _run(
            Path(tmp),
            False,
            batches,
            split=SPLIT[name],
            counter=_Counter(library),
            warmup=WARMUP_BATCHES,
            server_gc=gc_mode == "server",
            same_time=same_time,
        )


def callgrind_totals(script: Path, child_args: list[str], out: Path) -> int:
    """Instructions callgrind counted in ``script`` run as a child with ``child_args``.

    Counting starts only when the child's :class:`_Counter` switches it on; the hash seed is
    fixed so every run has the same dict layouts."""
    import subprocess

    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts in every run
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
        sys.executable,
        str(script.resolve()),
        *child_args,
    ]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for line in out.read_text().splitlines():
        if line.startswith("totals:"):  # "summary:" stays 0 when counting starts late
            return int(line.split()[1])
    msg = f"no totals in {out}"
    raise RuntimeError(msg)


def count_in_child(
    script: Path, child_flag: str, name: str, batches: int, library: Path, folder: Path, *extra: str
) -> int:
    """Instructions callgrind counted in one child process: ``script`` run as
    ``child_flag name --batches N --library L *extra`` (its child mode, which starts and
    stops a :class:`_Counter` around what it measures). Shared by ``profile_http.py`` and
    ``profile_parse.py``."""
    out = folder / f"callgrind.{name.replace(' ', '_')}.{time.monotonic_ns()}"
    args = [child_flag, name, "--batches", str(batches), "--library", str(library), *extra]
    return callgrind_totals(script, args, out)


#: ``--instructions``' collector settings: Python's defaults, and the server processes'
#: (``lineguard.server.tls.serve``: the heap frozen once started, the youngest generation
#: collected every ``GC_YOUNG_THRESHOLD`` allocations instead of 700).
GC_MODES = ("python", "server")


def _instructions(batches: int, repeat: int, names: list[str], gc_modes: list[str], same_time: bool) -> None:
    """Instructions per event (callgrind's Ir, user space), servers taking turns ``repeat`` times."""
    events = batches * ingest.BATCH
    runs = [(name, mode) for name in names for mode in gc_modes]
    counts: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    extra = ["--same-time"] if same_time else []
    with tempfile.TemporaryDirectory(prefix="lg-callgrind-") as tmp:
        library = _Counter.build(Path(tmp))
        for _ in range(repeat):
            for name, mode in runs:
                total = count_in_child(
                    Path(__file__),
                    "--instructions-child",
                    name,
                    batches,
                    library,
                    Path(tmp),
                    "--collector",
                    mode,
                    *extra,
                )
                counts[(name, mode)].append(total / events)
    import lineguard

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    times = "one time per batch (--same-time)" if same_time else f"events {ingest.EVENT_SPACING} apart"
    print(
        f"ingest_batch on SQLite, {batches} x {ingest.BATCH} events after {WARMUP_BATCHES} warm-up batches,"
        f" {times}, instructions per event (callgrind Ir), load average {load} ({lineguard.__file__})"
    )
    for (name, mode), values in counts.items():
        spread = (max(values) - min(values)) / min(values)
        runs_text = ", ".join(f"{v / 1000:.1f}k" for v in values)
        label = name if gc_modes == ["python"] else f"{name}, {mode} gc"
        best = min(values) / 1000
        print(f"  {label:30s} {best:8.1f}k per event  (runs {runs_text}; spread {100 * spread:.2f} %)")
    for mode in gc_modes:
        if ("on", mode) in counts and ("off", mode) in counts:
            on, off = min(counts[("on", mode)]), min(counts[("off", mode)])
            print(f"  {mode} gc: on - off {(on - off) / 1000:+.1f}k per event, on/off {on / off:.3f}")


def _no_autocheckpoint(engine: Any) -> None:
    """Every connection from now on leaves the WAL to grow: its size is then every frame written."""
    from sqlalchemy import event

    engine.dispose()  # the migration's connections close; the last one checkpoints and removes the WAL

    def off(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

    event.listen(engine, "connect", off)


def _sizes(engine: Any, path: Path, events: int) -> dict[str, float]:
    from sqlalchemy import text

    wal = path.with_name(path.name + "-wal").stat().st_size
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = dict(conn.execute(text("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")).all())
        sealed = conn.execute(text("SELECT avg(length(part_id_sealed)) FROM inspection_events")).scalar()
    sizes = {"WAL written": wal / events, "database file": path.stat().st_size / events}
    sizes["sealed part id"] = float(sealed or 0)
    for name, size in pages.items():
        if name.startswith(("data_keys", "ix_data_keys", "sqlite_autoindex_data_keys", "inspection_events")):
            sizes[f"  {name}"] = size / events
    return sizes


def _bytes(batches: int) -> None:
    results: dict[str, dict[str, float]] = {}
    for name in ("off", "on"):
        results[name] = {}
        with tempfile.TemporaryDirectory(prefix="lg-profile-") as tmp:
            _run(Path(tmp), False, batches, split=SPLIT[name], sizes=results[name])
    import lineguard

    print(
        f"ingest_batch on SQLite, {batches} x {ingest.BATCH} events, bytes per event ({lineguard.__file__})"
    )
    for key in sorted(set().union(*results.values()), key=lambda k: (k.startswith(" "), k)):
        off, on = results["off"].get(key, 0.0), results["on"].get(key, 0.0)
        print(f"  {key:45s} off {off:8.1f}  on {on:8.1f}  on-off {on - off:+8.1f}")


class _Collected:
    """A data-key store that keeps keys in memory: ``--split``'s "sealing only"."""

    def __init__(self) -> None:
        self.keys: list[Any] = []

    def put_many(self, keys: Any) -> None:
        self.keys.extend(keys)

    def put_if_absent(self, key: Any) -> Any:
        """A bucket's key: kept here like the others (sealing only writes no key row)."""
        self.keys.append(key)
        return key


def _split(batches: int, repeat: int) -> None:
    best = {name: float("inf") for name in SPLIT}
    for _ in range(repeat):
        for name, split in SPLIT.items():
            with tempfile.TemporaryDirectory(prefix="lg-profile-") as tmp:
                best[name] = min(best[name], _run(Path(tmp), False, batches, split=split)[0])
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"ingest_batch on SQLite, {batches} x {ingest.BATCH} events, fastest of {repeat}, load average {load}"
    )
    for name, us in best.items():
        print(f"  {name:20s} {us:6.1f} us per event")
    pieces = {
        "audit entry (audit only - off)": best["audit only"] - best["off"],
        "sealing (sealing only - off)": best["sealing only"] - best["off"],
        "data-key rows (+ key rows - sealing only)": best["sealing + key rows"] - best["sealing only"],
        "audit beside encryption (on - sealing + key rows)": best["on"] - best["sealing + key rows"],
    }
    for name, us in pieces.items():
        print(f"  {name:50s} {us:+6.1f} us per event")
    print(f"  on/off {best['on'] / best['off']:.2f}")


def _gc(batches: int, repeat: int) -> None:
    """The default server ("on") with Python's youngest-generation threshold and with the
    server processes' (``GC_YOUNG_THRESHOLD``), taking turns; fastest of ``repeat``."""
    from lineguard.server.tls.serve import GC_YOUNG_THRESHOLD

    saved = gc.get_threshold()
    thresholds = {"python default": saved, "server": (GC_YOUNG_THRESHOLD, *saved[1:])}
    best = dict.fromkeys(thresholds, float("inf"))
    for _ in range(repeat):
        for name, threshold in thresholds.items():
            with _frozen_heap(threshold[0]), tempfile.TemporaryDirectory(prefix="lg-profile-") as tmp:
                best[name] = min(best[name], _run(Path(tmp), False, batches, split=SPLIT["on"])[0])
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"ingest_batch on SQLite, audit + encryption on, {batches} x {ingest.BATCH} events, load {load}")
    for name, us in best.items():
        print(f"  gc thresholds {name:15s} {thresholds[name]!s:18s} {us:6.1f} us per event")
    print(f"  server / default {best['server'] / best['python default']:.2f}")


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
    parser.add_argument("--split", action="store_true", help="split the extra cost; no profiler")
    parser.add_argument("--gc", action="store_true", help="the server's GC threshold vs Python's")
    parser.add_argument("--repeat", type=int, default=5, help="--split, --gc: runs of each server")
    parser.add_argument("--bytes", action="store_true", help="bytes per event: rows, indexes, WAL")
    parser.add_argument(
        "--instructions", action="store_true", help="instructions per event under callgrind (steady)"
    )
    parser.add_argument(
        "--servers",
        default="off,on",
        help=f"--instructions: which of {', '.join(SPLIT)} (comma-separated)",
    )
    parser.add_argument(
        "--collector",
        default="python",
        help="--instructions: the collector's settings, comma-separated: python (defaults),"
        " server (frozen heap, the server's threshold); 'python,server' reports both",
    )
    parser.add_argument(
        "--same-time",
        action="store_true",
        help="every event of a batch at one time (the figures before 2026-12-07 15:00)",
    )
    parser.add_argument("--instructions-child", choices=[*SPLIT], help=argparse.SUPPRESS)
    parser.add_argument("--library", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    gc_modes = [m.strip() for m in args.collector.split(",")]
    if set(gc_modes) - set(GC_MODES):
        parser.error(
            f"--collector: unknown {sorted(set(gc_modes) - set(GC_MODES))}; choose from {list(GC_MODES)}"
        )
    if args.instructions_child:
        _instructions_child(args.instructions_child, args.batches, args.library, gc_modes[0], args.same_time)
        return
    if args.instructions:
        names = [n.strip() for n in args.servers.split(",")]
        unknown = sorted(set(names) - set(SPLIT))
        if unknown:
            parser.error(f"--servers: unknown {unknown}; choose from {[*SPLIT]}")
        _instructions(args.batches, args.repeat, names, gc_modes, args.same_time)
        return
    if args.bytes:
        _bytes(args.batches)
        return
    if args.split:
        _split(args.batches, args.repeat)
        return
    if args.gc:
        _gc(args.batches, args.repeat)
        return
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
    assert off_stats is not None and on_stats is not None
    off_t, on_t = _own_time(off_stats), _own_time(on_stats)
    extra = sorted(((on_t.get(k, 0.0) - off_t.get(k, 0.0), k) for k in set(on_t) | set(off_t)), reverse=True)
    print(f"  where the extra {on_us - off_us:.1f} us per event goes (own time per event, on minus off):")
    for delta, key in extra[: args.top]:
        print(f"    {1e6 * delta / events:7.2f} us  {key}")


if __name__ == "__main__":
    main()
