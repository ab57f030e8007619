"""Rolling statistics the node reports: latency percentiles and frame rates.

Prometheus histograms give buckets; operators and ``lineguard edge status`` want plain
p50 / p99 over the last few seconds, so each stage also keeps a small rolling window.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

__all__ = ["LatencyWindow", "RateMeter"]


class LatencyWindow:
    """The last ``size`` latency samples (milliseconds), thread-safe."""

    def __init__(self, size: int = 2048) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()
        self.count = 0

    def add(self, latency_ms: float) -> None:
        with self._lock:
            self._samples.append(latency_ms)
            self.count += 1

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0–100) of the window; 0.0 while empty."""
        with self._lock:
            if not self._samples:
                return 0.0
            return float(np.percentile(np.fromiter(self._samples, dtype=np.float64), q))

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)


class RateMeter:
    """Events per second over a sliding window of ``window_s`` seconds."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self, now: float | None = None) -> None:
        t = time.monotonic() if now is None else now
        with self._lock:
            self._times.append(t)
            self._trim(t)

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()

    def rate(self, now: float | None = None) -> float:
        t = time.monotonic() if now is None else now
        with self._lock:
            self._trim(t)
            if len(self._times) < 2:
                return 0.0
            span = self._times[-1] - self._times[0]
            return (len(self._times) - 1) / span if span > 0 else 0.0
