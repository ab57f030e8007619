"""An edge camera with a label stage, fed generated label frames part by part.

Shared by the unit test of the stage on the node (tests/unit/edge/labels/test_stage.py) and
the end-to-end test through a real plant server (tests/integration/test_label_stage_e2e.py).
The model always passes (``StaticRunner`` score 0): whatever fails a part here, the label
stage failed.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from lineguard.contracts.types import CapturedFrame
from lineguard.edge.decide import StationMonitor
from lineguard.edge.identity import https_client
from lineguard.edge.infer import StaticRunner
from lineguard.edge.labels.render import Degradation, LabelContent, degrade, place, render_label
from lineguard.edge.outbox import HttpsTransport, Outbox, OutboxSender
from lineguard.edge.pipeline import Arrival, CameraStats, InspectWorker
from lineguard.edge.stages import build_stages
from tests.unit.edge.support import camera, edge_config, wait_for

__all__ = ["GOOD", "START", "label_frame", "label_worker", "run_parts", "send_outbox"]

START = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.UTC)
GOOD = LabelContent("4711-0815", "09501101530003", "A12345", dt.date(2026, 12, 5), 12)
STAGE: dict[str, Any] = {
    "kind": "label",
    "name": "carton-label",
    "order": "PO-4711",
    "region": {"x": 20, "y": 40, "width": 600, "height": 400},
    "text_fields": ["part_number", "lot", "date", "quantity"],
    "expected": {
        "PO-4711": {
            "part_number": "4711-0815",
            "gtin": "09501101530003",
            "lot": "A12345",
            "date": "2026-12-05",
            "quantity": 12,
        }
    },
}


def label_frame(content: LabelContent | None, d: Degradation = Degradation()) -> np.ndarray[Any, Any]:  # noqa: B008
    label = None if content is None else degrade(render_label(content), d, np.random.default_rng(5))
    return place(label, frame_size=(640, 480))


def label_worker(
    data_dir: Path, *, node_id: str = "node-1", camera_id: str = "cam-1", stage: dict[str, Any] | None = None
) -> tuple[InspectWorker, Outbox]:
    config = edge_config(
        data_dir / "node",
        [camera(camera_id, data_dir / "model", parts={"id_source": "line"}, stages=[stage or STAGE])],
    )
    config = config.model_copy(update={"node": config.node.model_copy(update={"node_id": node_id})})
    outbox = Outbox(data_dir / "outbox.db")
    worker = InspectWorker(
        threading.Event(),
        node=config.node,
        camera=config.cameras[0],
        runner=StaticRunner(score=0.0, threshold=0.5),
        model_version=1,
        queue=None,  # type: ignore[arg-type]  # frames are handed to inspect() directly
        stats=CameraStats(camera_id),
        outbox=outbox,
        gate=None,
        monitor=StationMonitor(),
        stages=build_stages(config.cameras[0]),
    )
    return worker, outbox


def run_parts(
    worker: InspectWorker, parts: list[tuple[str, np.ndarray[Any, Any]]], frames_each: int = 2
) -> None:
    """Each part seen in ``frames_each`` frames; a last blank part closes the one before it."""
    fid = 0
    blank = np.full((480, 640, 3), 96, np.uint8)
    for part_id, image in [*parts, ("closing", blank)]:
        for _ in range(frames_each):
            at = START + dt.timedelta(seconds=fid)
            worker.inspect(
                Arrival(
                    CapturedFrame(worker.camera.camera_id, fid, at, image, part_id=part_id),
                    time.perf_counter_ns(),
                )
            )
            fid += 1


def send_outbox(outbox: Outbox, *, identity_dir: Path, server_url: str, node_id: str) -> None:
    """The node's own sender drains ``outbox`` to the server over mTLS, then stops."""
    stop = threading.Event()
    with https_client(identity_dir, server_url) as client:
        sender = OutboxSender(
            stop, outbox=outbox, transport=HttpsTransport(client), node_id=node_id, flush_interval_s=0.05
        )
        sender.start()
        try:
            wait_for(lambda: outbox.backlog() == 0, timeout_s=30)
        finally:
            stop.set()
            sender.join(10)
