"""The hand-over point between the updater and the infer worker: an atomic model slot.

The infer worker asks the slot for the current runner *per frame*
(``runner = slot.current()``); the updater builds and warms the new runner completely,
off the frame path, and only then :meth:`ModelSlot.swap` replaces one reference under a
lock. A frame already inside ``infer`` finishes on the old runner, the next frame gets
the new one: no frame waits for a model load and none is dropped. A rejected update
never reaches the slot, so the running model keeps running.

``slot.model_ref`` is what the heartbeat reports (``CameraHealth.model``): model id,
release version and the sha256 of the graph actually running.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from lineguard.contracts.errors import ModelError
from lineguard.contracts.events import ModelRef
from lineguard.contracts.types import ModelRunner

__all__ = ["ModelSlot", "SwapListener"]

#: Called after a swap with (new runner, its ref); e.g. to log or reset statistics.
SwapListener = Callable[[ModelRunner, ModelRef | None], None]


class ModelSlot:
    """Holds the runner the infer worker uses; swapped atomically by the updater."""

    def __init__(self, runner: ModelRunner | None = None, ref: ModelRef | None = None) -> None:
        self._lock = threading.Lock()
        self._runner = runner
        self._ref = ref
        self._listeners: list[SwapListener] = []
        self.swaps = 0

    def current(self) -> ModelRunner:
        """The runner to use for the next frame."""
        runner = self._runner  # one reference read: atomic in CPython, no lock on the frame path
        if runner is None:
            msg = "no model is loaded yet: waiting for a verified package"
            raise ModelError(msg)
        return runner

    @property
    def loaded(self) -> bool:
        return self._runner is not None

    @property
    def model_ref(self) -> ModelRef | None:
        """What the heartbeat reports as running (``None`` before the first verified package)."""
        with self._lock:
            return self._ref

    @property
    def digest(self) -> str | None:
        runner = self._runner
        return None if runner is None else runner.digest

    def swap(self, runner: ModelRunner, ref: ModelRef | None) -> ModelRunner | None:
        """Make ``runner`` current; return the previous one (the caller may release it)."""
        if ref is not None and ref.sha256 != runner.digest:
            msg = f"model ref names sha256 {ref.sha256}, but the runner executes {runner.digest}"
            raise ModelError(msg)
        with self._lock:
            previous, self._runner, self._ref = self._runner, runner, ref
            self.swaps += 1
            listeners = list(self._listeners)
        for listener in listeners:
            listener(runner, ref)
        return previous

    def subscribe(self, listener: SwapListener) -> None:
        with self._lock:
            self._listeners.append(listener)
