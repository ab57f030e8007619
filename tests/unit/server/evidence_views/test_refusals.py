"""Refused relay connections are counted, and audited at most once per source and reason a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lineguard.server.evidence_views.refusals import OTHER_SOURCES, RefusalLedger

T0 = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.s = 0.0

    def mono(self) -> float:
        return self.s

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.s)


def _ledger(clock: Clock, **limits: int) -> RefusalLedger:
    return RefusalLedger("rep_a", window_s=60, clock=clock.mono, now=clock.wall, **limits)


def test_a_flood_from_one_source_is_one_entry_a_minute_with_its_count() -> None:
    clock = Clock()
    ledger = _ledger(clock)
    ledger.note("10.0.0.9", "handshake_failed", "PEER_DID_NOT_RETURN_A_CERTIFICATE")
    [first] = ledger.due()  # the first refusal from a source is reported at the next flush
    assert (first.source_ip, first.reason, first.count, first.outcome) == (
        "10.0.0.9",
        "handshake_failed",
        1,
        "denied",
    )
    for i in range(5000):  # then a flood, over 59 s
        clock.s = 1 + i * 58 / 5000
        ledger.note("10.0.0.9", "handshake_failed", "PEER_DID_NOT_RETURN_A_CERTIFICATE")
        assert ledger.due() == []  # flushed every beat, nothing until a window has passed
    clock.s = 60.0
    [summary] = ledger.due()
    assert summary.count == 5000
    assert summary.first_at == T0 + timedelta(seconds=1) and summary.last_at < T0 + timedelta(seconds=60)
    assert ledger.due() == []
    assert ledger.totals == {"handshake_failed": 5001}
    clock.s = 200.0  # a quiet window: the source is forgotten, and its next refusal reported at once
    assert ledger.due() == []
    ledger.note("10.0.0.9", "handshake_failed", "x")
    assert [e.count for e in ledger.due()] == [1]


def test_sources_and_reasons_are_told_apart_and_memory_is_bounded() -> None:
    clock = Clock()
    ledger = _ledger(clock, max_sources=3)
    ledger.note("10.0.0.1", "not_a_replica", "O=LineGuard node,CN=edge-1")
    ledger.note("10.0.0.1", "revoked", "rep_old")
    ledger.note("10.0.0.2", "revoked", "rep_old")
    for i in range(100):  # a hundred more sources: counted, under "other"
        ledger.note(f"10.1.0.{i}", "handshake_failed", "CERTIFICATE_VERIFY_FAILED")
    entries = {(e.source_ip, e.reason): e.count for e in ledger.due()}
    assert entries == {
        ("10.0.0.1", "not_a_replica"): 1,
        ("10.0.0.1", "revoked"): 1,
        ("10.0.0.2", "revoked"): 1,
        (OTHER_SOURCES, "handshake_failed"): 100,
    }


def test_closing_hands_out_every_count() -> None:
    clock = Clock()
    ledger = _ledger(clock)
    ledger.note("10.0.0.1", "revoked", "rep_old")
    assert len(ledger.due()) == 1
    ledger.note("10.0.0.1", "revoked", "rep_old")
    ledger.note("10.0.0.1", "revoked", "rep_old")
    assert ledger.due() == []  # within the window
    [last] = ledger.due(close=True)  # at shutdown nothing counted is lost
    assert last.count == 2
