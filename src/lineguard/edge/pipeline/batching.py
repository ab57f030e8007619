"""One model session for several cameras, their concurrent frames scored as one batch.

With several cameras on one package, each camera's inspect worker used to call the
shared session on its own; on a small CPU node those calls compete for the same cores
and each pays the per-call overhead of the graph. :class:`BatchingRunner` lets them
queue instead: a caller that finds fewer than ``max_in_flight`` batches running becomes
a leader, takes every frame queued so far (up to ``max_batch``) and runs them as one
``N x 3 x H x W`` tensor; the others wait for their row. ``max_in_flight`` defaults to
the number of cores: one batch at a time would leave the other cores idle, because a
session with one intra-op thread runs a batch on one core. Nothing waits for a batch to fill — an idle node
scores each frame at once, batches form only while the model is busy — so batching
adds no latency of its own. Preparing the input (resize, normalise) stays in each
camera's own thread.

A failure of the batch is every member's failure (each caller gets the same
:class:`~lineguard.contracts.errors.ModelError` it would have got alone).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from lineguard.contracts.errors import ConfigError, ModelError
from lineguard.contracts.types import Frame, ModelRunner, Scores

__all__ = ["BatchingRunner", "TensorRunner", "batching"]

Floats = npt.NDArray[np.float32]


class TensorRunner(ModelRunner, Protocol):
    """A runner that can prepare one image and score a prepared batch (``OnnxModelRunner``)."""

    def prepare(self, image: npt.NDArray[Any], *, source: str = "image") -> Floats: ...

    def run_tensor(self, tensor: Floats) -> tuple[Floats, Floats]: ...


@dataclass(slots=True, eq=False)  # compared by identity: `slot in queue`
class _Slot:
    tensor: Floats
    done: bool = False
    scores: Scores | None = None
    error: BaseException | None = None
    #: How many frames ran in the batch this one ran in (for statistics and tests).
    batch_size: int = 0


@dataclass
class BatchStats:
    batches: int = 0
    frames: int = 0
    largest: int = 0
    sizes: dict[int, int] = field(default_factory=dict)


class BatchingRunner:
    """A :class:`~lineguard.contracts.types.ModelRunner` that batches concurrent callers."""

    def __init__(self, runner: TensorRunner, *, max_batch: int, max_in_flight: int = 1) -> None:
        if max_batch < 1 or max_in_flight < 1:
            msg = f"max_batch and max_in_flight must be >= 1, got {max_batch} and {max_in_flight}"
            raise ConfigError(msg)
        self.runner, self.max_batch, self.max_in_flight = runner, max_batch, max_in_flight
        self.stats = BatchStats()
        self._cond = threading.Condition()
        self._queue: list[_Slot] = []
        self._in_flight = 0

    @property
    def model_id(self) -> str:
        return self.runner.model_id

    @property
    def digest(self) -> str:
        return self.runner.digest

    @property
    def threshold(self) -> float:
        return self.runner.threshold

    def infer(self, image: Frame) -> Scores:
        slot = _Slot(self.runner.prepare(image))  # in the caller's thread, in parallel
        with self._cond:
            self._queue.append(slot)
            while not slot.done:
                if self._in_flight >= self.max_in_flight or slot not in self._queue:
                    self._cond.wait()  # batches are running (or ours is): ours joins the next one
                    continue
                self._in_flight += 1
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                self._cond.release()
                try:
                    self._run(batch)
                finally:
                    self._cond.acquire()
                    self._in_flight -= 1
                    self._cond.notify_all()
        if slot.error is not None:
            raise slot.error
        assert slot.scores is not None  # noqa: S101 - done without error means scored
        return slot.scores

    def _score(self, batch: list[_Slot]) -> list[Scores]:
        tensor = batch[0].tensor if len(batch) == 1 else np.concatenate([s.tensor for s in batch])
        # A runner of a package with named defect classes scores with its region classifier.
        run_scores = getattr(self.runner, "run_scores", None)
        if run_scores is not None:
            scored: list[Scores] = run_scores(tensor)
        else:
            scores, maps = self.runner.run_tensor(tensor)
            scored = [
                Scores(anomaly_score=float(s), anomaly_map=np.ascontiguousarray(m))
                for s, m in zip(scores, maps, strict=False)
            ]
        if len(scored) != len(batch):
            msg = f"model {self.model_id} returned {len(scored)} scores for a batch of {len(batch)}"
            raise ModelError(msg)
        return scored

    def _run(self, batch: list[_Slot]) -> None:
        """Score ``batch`` as one tensor (outside the lock); every slot ends done."""
        try:
            for slot, scores in zip(batch, self._score(batch), strict=True):
                slot.scores = scores
        except Exception as exc:  # the batch's failure is each member's
            for slot in batch:
                slot.error = exc
        finally:
            stats = self.stats
            stats.batches += 1
            stats.frames += len(batch)
            stats.largest = max(stats.largest, len(batch))
            stats.sizes[len(batch)] = stats.sizes.get(len(batch), 0) + 1
            for slot in batch:
                slot.batch_size, slot.done = len(batch), True


def batching(runner: ModelRunner, *, cameras: int, cores: int | None = None) -> ModelRunner:
    """``runner`` shared by ``cameras`` cameras: batched when it can score prepared batches,
    with up to ``cores`` (default: this machine's) batches running at once."""
    if cameras < 2 or not (hasattr(runner, "prepare") and hasattr(runner, "run_tensor")):
        return runner
    tensor_runner: TensorRunner = runner  # type: ignore[assignment]
    in_flight = max(1, min(cameras, cores if cores is not None else len(os.sched_getaffinity(0))))
    return BatchingRunner(tensor_runner, max_batch=cameras, max_in_flight=in_flight)
