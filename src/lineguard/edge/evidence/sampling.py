"""Which passing parts become evidence: a handful per hour per camera, for audits.

A quality engineer auditing a line wants to see that passes look like passes — a few
examples an hour, spread over the shift — not a share of every frame (1 % of a 30 fps
camera is 1,080 images an hour, which nobody reviews and which costs storage and
redaction time). :class:`PassSampler` keeps a pass when both hold:

* at least a gap has passed since the last kept pass; the gap is drawn afresh each time
  between 0.5x and 1.5x of ``3600 / pass_samples_per_hour`` seconds, so samples are
  spread over the hour but not on a predictable beat;
* the pass wins a draw with probability ``pass_sample_rate`` (so which part is kept
  after the gap is random too).

``pass_samples_per_hour: 0`` or ``pass_sample_rate: 0`` keeps no passes;
``pass_samples_per_hour: null`` removes the cap (every pass wins with ``pass_sample_rate``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

__all__ = ["PassSampler"]


class PassSampler:
    def __init__(
        self,
        rate: float,
        per_hour: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.rate, self.per_hour, self.clock = rate, per_hour, clock
        self._rng = rng or random.Random()  # noqa: S311 - sampling passes, not crypto
        self._next_at: float | None = None
        #: Passes kept as evidence so far.
        self.kept = 0

    def keep(self) -> bool:
        """Whether this passing part becomes an evidence sample."""
        if self.rate <= 0 or self.per_hour == 0:
            return False
        now = self.clock()
        if self._next_at is not None and now < self._next_at:
            return False
        if self._rng.random() >= self.rate:
            return False
        if self.per_hour is not None:
            self._next_at = now + self._rng.uniform(0.5, 1.5) * 3600.0 / self.per_hour
        self.kept += 1
        return True
