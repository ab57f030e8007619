"""The per-camera pipeline that runs the stage folders in order.

capture/ → preprocess/ → infer/ → decide/ → redact/ → evidence/ → outbox/:
:class:`CaptureWorker` runs capture; :class:`InspectWorker` runs preprocess, infer and
decide, hands evidence to the gate (:mod:`lineguard.edge.evidence.gate`, which redacts
first) and writes events to the outbox. The node (:mod:`lineguard.edge.app`) starts one
pair per camera; cameras on the same package share one session, their concurrent frames
scored as one batch (:class:`BatchingRunner`, ``inference.batch_across_cameras``).
"""

from __future__ import annotations

from lineguard.edge.pipeline.batching import BatchingRunner, batching
from lineguard.edge.pipeline.camera import Arrival, CameraStats, CaptureWorker, InspectWorker

__all__ = ["Arrival", "BatchingRunner", "CameraStats", "CaptureWorker", "InspectWorker", "batching"]
