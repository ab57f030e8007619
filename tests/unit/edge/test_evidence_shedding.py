"""Evidence under load: passing samples are shed first, a failed part's evidence last."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from lineguard.contracts.events import BoundingBox, Verdict
from lineguard.contracts.ids import new_id
from lineguard.contracts.types import CapturedFrame
from lineguard.edge.evidence.gate import QUEUE_ITEMS, EvidenceGate
from lineguard.edge.evidence.shed_queue import ShedQueue
from lineguard.edge.redact import FakeRedactor
from tests.support.evidence_node import evidence_store

F, U, P = Verdict.FAIL, Verdict.UNCERTAIN, Verdict.PASS


def _queue(maxsize: int = 3, max_bytes: int = 10_000) -> ShedQueue[tuple[str, int]]:
    return ShedQueue(maxsize, max_bytes, lambda item: item[1])


def _drain(q: ShedQueue[tuple[str, int]]) -> list[str]:
    out = []
    while (item := q.get(0.0)) is not None:
        out.append(item[0])
    return out


def test_a_full_queue_sheds_the_oldest_pass_first_then_uncertain() -> None:
    q = _queue()
    assert q.put(("p1", 1), P) == [] and q.put(("u1", 1), U) == [] and q.put(("p2", 1), P) == []
    assert q.put(("f1", 1), F) == [("p1", 1)]
    assert q.put(("f2", 1), F) == [("p2", 1)]
    assert q.put(("f3", 1), F) == [("u1", 1)]
    assert q.dropped_by == {F: 0, U: 1, P: 2}
    assert _drain(q) == ["f1", "f2", "f3"]


def test_a_pass_never_pushes_out_a_fail_it_is_shed_itself() -> None:
    q = _queue(maxsize=2)
    q.put(("f1", 1), F)
    q.put(("u1", 1), U)
    assert q.put(("p1", 1), P) == [("p1", 1)]
    assert q.put(("u2", 1), U) == [("u1", 1)]  # same priority: the freshest wins
    assert q.dropped_by == {F: 0, U: 1, P: 1}
    assert _drain(q) == ["f1", "u2"]


def test_fails_are_shed_only_when_nothing_else_is_queued_and_then_counted_apart() -> None:
    q = _queue(maxsize=2)
    q.put(("f1", 1), F)
    q.put(("f2", 1), F)
    assert q.put(("f3", 1), F) == [("f1", 1)]
    assert q.dropped_by[F] == 1 and q.dropped == 1


def test_fails_are_served_first_then_uncertain_then_passes_oldest_first() -> None:
    q = _queue(maxsize=10)
    for name, verdict in (("p1", P), ("u1", U), ("f1", F), ("p2", P), ("f2", F)):
        q.put((name, 1), verdict)
    assert _drain(q) == ["f1", "f2", "u1", "p1", "p2"]


def test_the_byte_bound_sheds_by_the_same_priority() -> None:
    q = _queue(maxsize=10, max_bytes=100)
    q.put(("p1", 40), P)
    q.put(("f1", 40), F)
    assert q.put(("f2", 40), F) == [("p1", 40)]
    assert q.queued_bytes == 80
    assert q.put(("big", 500), F) == [("f1", 40), ("f2", 40)]  # alone it may exceed the bound
    assert len(q) == 1 and q.queued_bytes == 500


def test_get_waits_for_an_item_from_another_thread() -> None:
    q = _queue()
    threading.Timer(0.05, lambda: q.put(("f1", 1), F)).start()
    assert q.get(5.0) == ("f1", 1)
    assert q.get(0.0) is None


@pytest.mark.parametrize(("maxsize", "max_bytes"), [(0, 10), (3, 0)])
def test_bounds_below_one_are_refused(maxsize: int, max_bytes: int) -> None:
    with pytest.raises(ValueError, match="queue bounds must be >= 1"):
        ShedQueue(maxsize, max_bytes, len)


def test_the_gate_under_load_keeps_every_fail_and_counts_the_passes_it_shed(tmp_path: Path) -> None:
    store = evidence_store(tmp_path, "node-1")
    gate = EvidenceGate(store, FakeRedactor())
    region = BoundingBox(x=0, y=0, width=32, height=24)

    def submit(verdict: Verdict) -> str:
        frame = CapturedFrame("cam-1", 0, datetime.now(UTC), np.full((24, 32, 3), 90, np.uint8))
        return gate.submit(frame, verdict=verdict, event_id=new_id("evt"), mode="blur", region=region)

    # The writer is behind: the queue fills with pass samples, then failed parts arrive.
    passes = [submit(Verdict.PASS) for _ in range(QUEUE_ITEMS)]
    fails = [submit(Verdict.FAIL) for _ in range(10)]
    assert gate.dropped_by_category == {"fail": 0, "uncertain": 0, "pass": 10}
    while gate.drain_one(0.0):
        pass
    kept = {r.evidence_id for r in store.records()}
    assert set(fails) <= kept  # no failed part without its evidence
    assert len(kept & set(passes)) == QUEUE_ITEMS - 10
    assert gate.stored == QUEUE_ITEMS
    store.close()
