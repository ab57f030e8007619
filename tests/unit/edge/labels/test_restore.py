"""Bridging dead printhead lines: what it closes and what it leaves alone (no OCR needed)."""

from __future__ import annotations

import numpy as np
import pytest

from lineguard.edge.labels.restore import GAP_PX, bridge_print_gaps


def _bar_with_gap(gap_px: int) -> np.ndarray:
    """A white card with a black bar 20 px tall, cut across by a white line ``gap_px`` tall."""
    card = np.full((40, 30), 255, np.uint8)
    card[10:30, 10:20] = 0
    card[19 : 19 + gap_px, :] = 255
    return card


@pytest.mark.parametrize("gap_px", range(1, GAP_PX + 1))
def test_an_unprinted_line_up_to_the_gap_is_closed(gap_px: int) -> None:
    bridged = bridge_print_gaps(_bar_with_gap(gap_px))
    assert (bridged[10:30, 10:20] == 0).all()


def test_a_taller_gap_is_a_counter_and_stays_open() -> None:
    """An 8's or a G's opening is taller than a dead line: bridging must not close it."""
    card = _bar_with_gap(GAP_PX + 1)
    assert (bridge_print_gaps(card) == card).all()


def test_ink_never_grows_and_the_card_is_untouched() -> None:
    card = _bar_with_gap(2)
    bridged = bridge_print_gaps(card)
    assert (bridged[:10] == 255).all() and (bridged[30:] == 255).all()  # no stroke taller
    assert (bridged[:, :10] == 255).all() and (bridged[:, 20:] == 255).all()  # nor wider
    assert (bridged <= card).all()  # an opening only darkens gaps; a letter gains no stroke elsewhere


def test_codes_may_bridge_taller_gaps() -> None:
    """Only for codes (a decoded symbol checks itself): gap_px widens what is closed."""
    card = _bar_with_gap(GAP_PX + 2)
    assert (bridge_print_gaps(card) == card).all()
    assert (bridge_print_gaps(card, gap_px=GAP_PX + 2)[10:30, 10:20] == 0).all()
