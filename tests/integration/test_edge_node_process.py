"""The edge node as a real process against a real mTLS receiver.

* ``kill -9`` at random moments and server outages of random length lose no event that
  reached the outbox and create no duplicate at the receiver;
* the node opens no connection except to its configured server (audit hook on
  ``socket.connect`` inside the node process);
* every byte the node sent is metadata: each body is a valid wire message and no image
  data is among them.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from tests.unit.edge.support import PASS_ENV, PASSPHRASE, PlantPki, precreate_keyring

from lineguard.config.edge import SyntheticSource
from lineguard.contracts.events import IngestBatch, NodeHeartbeat
from lineguard.edge.capture import SyntheticLine
from lineguard.edge.outbox.receiver import LocalIngestReceiver

pytestmark = pytest.mark.slow

SOURCE = {
    "type": "synthetic",
    "width": 320,
    "height": 240,
    "fps": 40,
    "defect_rate": 0.2,
    "person_rate": 0.1,
    "seed": 7,
}


@pytest.fixture(scope="module")
def tiny_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lineguard.vision.testing import build_tiny_package

    path = tmp_path_factory.mktemp("models") / "tiny"
    build_tiny_package(path)
    return path


def _setup(tmp_path: Path, tiny_package: Path) -> tuple[LocalIngestReceiver, Path, Path]:
    pki = PlantPki(tmp_path / "pki")
    receiver = LocalIngestReceiver(
        cert_file=pki.server_cert_file, key_file=pki.server_key_file, client_ca_file=pki.ca_file
    )
    receiver.start()
    data = tmp_path / "data"
    pki.enroll(data, "node-1", receiver.url)
    precreate_keyring(data)
    config = {
        "kind": "edge",
        "node": {"node_id": "node-1", "site_id": "plant-a", "line_id": "line-1", "data_dir": str(data)},
        "server": {"url": receiver.url, "batch_size": 50, "flush_interval_ms": 50, "retry_max_s": 0.5},
        "cameras": [
            # The tiny test model scores these frames ~0.29-0.39: a threshold of 0.35 fails a few.
            {
                "camera_id": "cam-1",
                "station_id": "st-10",
                "source": SOURCE,
                "model": str(tiny_package),
                "threshold_override": 0.35,
                "uncertain_margin": 0.02,
                "evidence": {
                    "full_frame": True,
                    "full_frame_purpose": "test: the whole synthetic frame is the part",
                },
            }
        ],
        "outbox": {"fsync": False},  # the default: durable against kill -9
        "metrics": {"port": 0},
    }
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return receiver, path, data


def _env() -> dict[str, str]:
    return {**os.environ, PASS_ENV: PASSPHRASE}


def _start(
    config: Path, *, wrapper: str | None = None, seconds: float | None = None
) -> subprocess.Popen[bytes]:
    args = ["edge", "run", "--config", str(config), "--log-level", "warning"]
    if seconds is not None:
        args += ["--for-seconds", str(seconds)]
    if wrapper is None:
        cmd = [sys.executable, "-m", "lineguard.cli", *args]
    else:
        cmd = [sys.executable, "-c", wrapper, *args]
    return subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _outbox(data: Path) -> tuple[set[str], int]:
    """(every idempotency key ever committed, pending count), read like any other reader."""
    with sqlite3.connect(data / "outbox" / "outbox.db", timeout=30) as db:
        keys = {r[0] for r in db.execute("SELECT idempotency_key FROM items")}
        pending = db.execute("SELECT COUNT(*) FROM items WHERE status = 'pending'").fetchone()[0]
    return keys, int(pending)


def _wait_for_outbox(data: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not (data / "outbox" / "outbox.db").exists():
        assert time.monotonic() < deadline, "node never created its outbox"
        time.sleep(0.05)


def _wait_for_more_items(data: Path, than: int, timeout_s: float = 120) -> None:
    """Until the node has committed more than ``than`` items (a wait: a node starting at load
    ~30 committed none in the 0.8-2 s a round used to give it, and no backlog was left)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if len(_outbox(data)[0]) > than:
                return
        except sqlite3.OperationalError:  # the outbox's tables are still being created
            pass
        assert time.monotonic() < deadline, f"the node committed nothing new in {timeout_s:.0f} s"
        time.sleep(0.1)


def test_kill_9_and_outages_lose_nothing_and_duplicate_nothing(tmp_path: Path, tiny_package: Path) -> None:
    receiver, config, data = _setup(tmp_path, tiny_package)
    rng = random.Random(5)
    committed = 0
    try:
        for round_ in range(3):
            node = _start(config)
            _wait_for_outbox(data)
            if round_ in (1, 2):
                receiver.stop()  # an outage spanning a kill
            _wait_for_more_items(data, than=committed)  # the node is at work: the kill lands mid-stream
            time.sleep(rng.uniform(0.8, 2.0))
            node.send_signal(signal.SIGKILL)
            node.wait(10)
            committed = len(_outbox(data)[0])
            if round_ == 2:
                receiver.start()  # back after an outage spanning two kills
        keys_before_drain, pending = _outbox(data)
        assert pending > 0, "the outages should have left a backlog"
        node = _start(config)
        deadline = time.monotonic() + 60
        while True:
            keys, pending = _outbox(data)
            if pending == 0 and keys_before_drain <= set(receiver.items):
                break
            assert time.monotonic() < deadline, f"backlog never drained: {pending} pending"
            time.sleep(0.2)
        node.send_signal(signal.SIGTERM)
        assert node.wait(20) == 0
        keys, pending = _outbox(data)
        assert pending == 0
        assert keys == set(receiver.items), "every event that reached the outbox is at the receiver"
        assert receiver.deliveries - receiver.duplicates == len(receiver.items)
        assert not receiver.rejections
    finally:
        receiver.stop()


AUDIT_WRAPPER = r"""
import json, sys
log = open(sys.argv[1], "a", buffering=1)
def hook(event, args):
    if event == "socket.connect":
        addr = args[1]
        log.write(json.dumps(list(addr) if isinstance(addr, tuple) else [str(addr)]) + "\n")
    elif event == "socket.getaddrinfo":
        log.write(json.dumps(["dns", str(args[0])]) + "\n")
sys.addaudithook(hook)
from lineguard.cli.main import main
main(sys.argv[2:])
"""


def test_node_connects_only_to_its_server_and_sends_only_metadata(tmp_path: Path, tiny_package: Path) -> None:
    receiver, config, _data = _setup(tmp_path, tiny_package)
    log = tmp_path / "connects.jsonl"
    wrapper = AUDIT_WRAPPER.replace("sys.argv[1]", repr(str(log))).replace("sys.argv[2:]", "sys.argv[1:]")
    try:
        node = _start(config, wrapper=wrapper, seconds=4)
        _, stderr = node.communicate(timeout=60)
        assert node.returncode == 0, stderr.decode()[-2000:]
    finally:
        receiver.stop()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    connects = [r for r in records if r[0] != "dns"]
    assert connects, "the node should have reached its server"
    assert {tuple(r[:2]) for r in connects} == {("127.0.0.1", receiver.port)}
    assert {r[1] for r in records if r[0] == "dns"} <= {"127.0.0.1"}

    assert receiver.bodies and receiver.items
    frames = SyntheticLine("cam-1", SyntheticSource.model_validate(SOURCE), realtime=False)
    pixel_windows = [frames.render(i).tobytes()[k : k + 48] for i in range(0, 120, 7) for k in (5000, 90_000)]
    for body in receiver.bodies:
        doc = json.loads(body)
        (NodeHeartbeat if "uptime_s" in doc else IngestBatch).model_validate_json(body)
        assert b"\xff\xd8\xff" not in body and b"\x89PNG" not in body
        assert not re.search(rb"[A-Za-z0-9+/=_-]{200,}", body), "no long encoded blob in any field"
        assert not any(w in body for w in pixel_windows)
    largest = max(len(b) for b in receiver.bodies) / max(
        1, max(len(json.loads(b).get("events", [])) for b in receiver.bodies)
    )
    assert largest < 4000, "an event is a few hundred bytes of metadata, never a frame"
