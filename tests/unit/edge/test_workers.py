"""Worker lifecycle, the freshest-wins queue and the queue that never drops."""

from __future__ import annotations

import threading

import pytest

from lineguard.edge.stats import LatencyWindow, RateMeter
from lineguard.edge.workers import BackpressureQueue, LatestQueue, Worker


def test_full_queue_drops_the_oldest_and_counts_it() -> None:
    q: LatestQueue[int] = LatestQueue(2)
    assert q.put(1) is None
    assert q.put(2) is None
    assert q.put(3) == 1
    assert q.dropped == 1
    assert [q.get(0.01), q.get(0.01), q.get(0.01)] == [2, 3, None]


def test_queue_refuses_zero_size() -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        LatestQueue(0)
    with pytest.raises(ValueError, match="must be >= 1"):
        BackpressureQueue(0, threading.Event())


def test_backpressure_queue_loses_nothing_to_a_slow_consumer() -> None:
    q: BackpressureQueue[int] = BackpressureQueue(2, threading.Event())
    got: list[int] = []

    def consume() -> None:
        while len(got) < 50:
            item = q.get(1.0)
            if item is not None:
                got.append(item)
                threading.Event().wait(0.002)  # slower than the producer

    consumer = threading.Thread(target=consume)
    consumer.start()
    for i in range(50):
        assert q.put(i) is None  # waits for room; never drops
        assert len(q) <= 2  # still bounded
    consumer.join(10)
    assert got == list(range(50))  # every item, in order
    assert q.dropped == 0 and q.abandoned == 0
    assert q.waits > 0  # the producer was held back


def test_backpressure_queue_gives_the_item_back_when_the_node_stops() -> None:
    stop = threading.Event()
    q: BackpressureQueue[str] = BackpressureQueue(1, stop)
    assert q.put("a") is None
    stopper = threading.Timer(0.2, stop.set)
    stopper.start()
    assert q.put("b") == "b"  # waited while full, then the stop came: not queued
    assert q.abandoned == 1 and q.dropped == 0
    assert [q.get(0.01), q.get(0.01)] == ["a", None]


class Recorder(Worker):
    error_backoff_s = 0.0

    def __init__(self, stop: threading.Event) -> None:
        super().__init__("recorder", stop)
        self.calls: list[str] = []

    def setup(self) -> None:
        self.calls.append("setup")

    def step(self) -> None:
        self.calls.append("step")
        if self.calls.count("step") == 2:
            raise RuntimeError("one bad frame")
        if self.calls.count("step") == 4:
            self.stop_event.set()

    def teardown(self) -> None:
        self.calls.append("teardown")


def test_worker_runs_setup_steps_teardown_and_survives_a_failing_step() -> None:
    worker = Recorder(threading.Event())
    worker.start()
    worker.join(5)
    assert worker.calls == ["setup", "step", "step", "step", "step", "teardown"]
    assert worker.errors == 1
    assert worker.last_error == "RuntimeError: one bad frame"


def test_worker_whose_setup_fails_reports_it_and_does_not_loop() -> None:
    class Broken(Recorder):
        def setup(self) -> None:
            raise OSError("device busy")

    worker = Broken(threading.Event())
    worker.run()
    assert worker.calls == []
    assert worker.last_error == "OSError: device busy"


def test_latency_window_percentiles_and_rate_meter() -> None:
    window = LatencyWindow(100)
    assert window.p99 == 0.0
    for v in range(1, 101):
        window.add(float(v))
    assert window.p50 == pytest.approx(50.5)
    assert window.p99 == pytest.approx(99.01)
    meter = RateMeter(window_s=5)
    for i in range(11):
        meter.tick(now=100.0 + i * 0.1)
    assert meter.rate(now=101.0) == pytest.approx(10.0)
    assert meter.rate(now=200.0) == 0.0
