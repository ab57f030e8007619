"""Evidence drops are all counted, but a flood of them stays readable in the log."""

from __future__ import annotations

from lineguard.edge.evidence.gate import _worth_logging


def test_drops_are_logged_at_decades_then_every_thousandth() -> None:
    logged = [n for n in range(5001) if _worth_logging(n)]
    assert logged == [1, 10, 100, 1000, 2000, 3000, 4000, 5000]
