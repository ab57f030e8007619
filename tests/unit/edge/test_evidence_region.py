"""Evidence is the part: nothing of the frame outside the stored region is ever written.

(The redactor looks at a context window around the stored region, in memory only; the
scans below prove that what it saw beyond the region never reaches a file.)

The node runs for real (folder camera, outbox, evidence gate and writer, encrypted store)
on frames whose area outside the ROI is painted with a marker: a magenta/green
checkerboard that survives JPEG, and a row of random bytes that a raw dump would carry.
Afterwards every file the node wrote (data directory, temp directory) and every log line
is scanned for the raw marker, and every stored evidence object is decrypted, decoded
and searched for the checkerboard. Positive controls prove each scan can see a leak: a
magenta square inside the ROI is found in the stored crops, and a camera configured
for full-frame evidence (with its purpose) does store the checkerboard.
"""

from __future__ import annotations

import base64
import logging
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from lineguard.config.edge import CameraEvidenceConfig
from lineguard.contracts.errors import InputError
from lineguard.contracts.events import BoundingBox, InspectionEvent
from lineguard.crypto import KdfParams
from lineguard.edge.app import EdgeNode
from lineguard.edge.evidence.region import context_window, cut, kept_region, stored_region
from lineguard.edge.infer import StaticRunner
from lineguard.edge.redact import Box, FakeRedactor, Redacted, RedactionMode
from tests.unit.edge.support import camera, edge_config, wait_for

pytestmark = pytest.mark.usefixtures("kek_env")

W, H = 320, 240
ROI = {"x": 100, "y": 60, "width": 120, "height": 100}
MARGIN = 16
#: ROI grown by the margin: the only pixels that may be stored.
STORED = (ROI["x"] - MARGIN, ROI["y"] - MARGIN, ROI["width"] + 2 * MARGIN, ROI["height"] + 2 * MARGIN)
NodeRun = Callable[..., tuple[EdgeNode, Path, Path]]
RAW_MARKER = np.random.default_rng(20261206).integers(0, 256, (1, 40, 3), dtype=np.uint8)


def _marked_frame(index: int) -> np.ndarray:
    """Checkerboard everywhere, a neutral part inside the stored region, a control square in the ROI."""
    yy, xx = np.mgrid[0:H, 0:W]
    board = ((yy // 8 + xx // 8) % 2).astype(bool)
    frame = np.zeros((H, W, 3), np.uint8)
    frame[board] = (255, 0, 255)  # magenta (BGR)
    frame[~board] = (0, 255, 0)  # green
    frame[2:3, 0:40] = RAW_MARKER  # outside the stored region
    x, y, w, h = STORED
    part = np.stack([xx[y : y + h, x : x + w] % 97 + 60] * 3, axis=2) + index
    frame[y : y + h, x : x + w] = part.astype(np.uint8)
    frame[96:120, 144:168] = (255, 0, 255)  # control: a magenta square inside the ROI
    return frame


def _magenta(image: np.ndarray) -> int:
    b, g, r = (image[..., c].astype(int) for c in range(3))
    return int(((b > 180) & (g < 80) & (r > 180)).sum())


def _green(image: np.ndarray) -> int:
    b, g, r = (image[..., c].astype(int) for c in range(3))
    return int(((b < 80) & (g > 180) & (r < 80)).sum())


@pytest.fixture
def node_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[NodeRun]:
    nodes: list[EdgeNode] = []
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # anything the node spools goes here
    monkeypatch.setenv("TMPDIR", str(temp))
    caplog.set_level(logging.DEBUG)

    def run(
        cam_settings: dict[str, Any], redactor: FakeRedactor | None = None
    ) -> tuple[EdgeNode, Path, Path]:
        frames = tmp_path / "camera"
        frames.mkdir()
        for i in range(4):
            cv2.imwrite(str(frames / f"part-{i}.png"), _marked_frame(i))
        source = {"type": "folder", "path": str(frames), "poll_interval_ms": 10}
        config = edge_config(tmp_path / "data", [camera("cam-a", tmp_path / "m", source, **cam_settings)])

        def amap(_: np.ndarray) -> np.ndarray:
            m = np.zeros((10, 12), np.float32)
            m[4:6, 5:7] = 1.0  # a defect region around the ROI's centre
            return m

        node = EdgeNode(
            config,
            kdf=KdfParams.insecure_for_tests(),
            runners={"cam-a": StaticRunner(threshold=0.5, score=0.9, map_fn=amap)},
            # By default hides nothing: whatever reaches the store is kept as is.
            redactor=redactor or FakeRedactor(),
        )
        node.start()
        nodes.append(node)
        stats = node.stats["cam-a"]
        # Every frame read is inspected or dropped (freshest wins); every alert's evidence stored.
        wait_for(
            lambda: stats.frames_inspected + stats.frames_dropped == 4 and node.gate.stored == stats.alerts
        )
        return node, tmp_path / "data", temp

    yield run
    for node in nodes:
        node.close()


def _written_files(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("*") if p.is_file()]


def test_nothing_outside_the_stored_region_is_written_anywhere(
    node_run: NodeRun, caplog: pytest.LogCaptureFixture
) -> None:
    node, data, temp = node_run({"roi": ROI})
    node.stop_event.set()
    for worker in node.workers:
        worker.join(5)
    raw = RAW_MARKER.tobytes()
    assert raw in _marked_frame(0).tobytes()  # the raw scan would see a dumped frame
    files = _written_files(data, temp)
    assert any(p.suffix == ".lge" for p in files) and any(p.name == "index.db" for p in files)
    for path in files:
        content = path.read_bytes()
        assert raw not in content, f"{path} holds raw pixels from outside the stored region"
        decoded = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_COLOR) if content else None
        if decoded is not None:  # an image file the node wrote in the clear
            assert _magenta(decoded) == 0 and _green(decoded) == 0, f"{path} is an image of the frame"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for encoding in (raw.hex(), base64.b64encode(raw).decode()):
        assert encoding not in logged
    records = node.evidence.records()
    assert 1 <= len(records) == node.stats["cam-a"].alerts
    for record in records:
        stored = node.evidence.image(record.evidence_id)  # decrypted, hash and signature checked
        assert (stored.shape[1], stored.shape[0]) == STORED[2:]
        assert _green(stored) == 0  # no pixel of the checkerboard outside the stored region
        assert 24 * 24 * 0.8 <= _magenta(stored) <= 24 * 24 * 1.2  # only the control square
        assert record.region == ",".join(str(v) for v in STORED)
        statement = record.statement_fields("node-1")
        assert statement["format"] == "lineguard-evidence-v2"
        assert statement["stored_region"] == dict(zip(("x", "y", "width", "height"), STORED, strict=True))
    events = [
        InspectionEvent.model_validate_json(i.body) for i in node.outbox.pending(1000) if i.kind == "event"
    ]
    # The event's defect boxes stay in frame coordinates, and lie inside the stored region.
    for event in events:
        for region in event.regions:
            box = region.bbox
            assert STORED[0] <= box.x and box.x + box.width <= STORED[0] + STORED[2]
            assert STORED[1] <= box.y and box.y + box.height <= STORED[1] + STORED[3]


def test_a_full_frame_camera_stores_the_frame_so_the_scan_can_see_a_leak(
    node_run: NodeRun,
) -> None:
    purpose = {"full_frame": True, "full_frame_purpose": "control: the scan must find the marker here"}
    node, _, _ = node_run({"roi": ROI, "evidence": purpose})
    records = node.evidence.records()
    assert records
    for record in records:
        stored = node.evidence.image(record.evidence_id)
        assert stored.shape[:2] == (H, W)
        assert _green(stored) > 10_000  # the checkerboard outside the ROI is in the image
        assert record.region == f"0,0,{W},{H}"


def test_the_stored_region_is_the_roi_plus_margin_clipped_to_the_frame() -> None:
    roi = BoundingBox(x=10, y=5, width=100, height=50)
    assert stored_region((240, 320, 3), roi, CameraEvidenceConfig(margin_px=16)) == BoundingBox(
        x=0, y=0, width=126, height=71
    )
    assert stored_region((240, 320, 3), roi, CameraEvidenceConfig(margin_px=0)) == roi
    whole = CameraEvidenceConfig(full_frame=True, full_frame_purpose="whole frame for this test case")
    assert stored_region((240, 320, 3), roi, whole) == BoundingBox(x=0, y=0, width=320, height=240)
    late = BoundingBox(x=300, y=230, width=100, height=100)  # reaches past the frame: clipped
    assert stored_region((240, 320), late, CameraEvidenceConfig()) == BoundingBox(
        x=284, y=214, width=36, height=26
    )


def test_the_crop_is_a_copy_and_defects_move_into_its_coordinates() -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[50:110, 100:180] = 7  # the stored region
    region = BoundingBox(x=100, y=50, width=80, height=60)
    defects = [
        BoundingBox(x=110, y=60, width=10, height=10),  # inside
        BoundingBox(x=170, y=100, width=40, height=40),  # crosses the crop's corner: clipped
        BoundingBox(x=0, y=0, width=20, height=20),  # outside the crop: dropped
    ]
    crop = cut(frame, region, defects)
    frame[:] = 255  # the frame is reused by the camera: the crop must not change
    # The redactor's context window: the region grown by half its larger side (40 px), clipped.
    assert crop.window == BoundingBox(x=60, y=10, width=160, height=140)
    assert crop.context.shape == (140, 160, 3) and crop.context.max() == 7
    stored = crop.stored(crop.context)
    assert stored.shape == (60, 80, 3) and (stored == 7).all()
    assert crop.defects == ((10, 10, 20, 20), (70, 50, 80, 60))
    with pytest.raises(InputError, match="reaches past the 320x240 frame"):
        cut(frame, BoundingBox(x=300, y=0, width=40, height=10))


class _SeeingRedactor(FakeRedactor):
    """Records the shape of every image it was asked to redact."""

    def __init__(self, boxes: list[Box]) -> None:
        super().__init__(boxes)
        self.shapes: list[tuple[int, ...]] = []

    def redact(self, image: np.ndarray, mode: RedactionMode) -> Redacted:
        self.shapes.append(image.shape)
        return super().redact(image, mode)


def _decisive_boxes(node: EdgeNode, evidence_id: str) -> list[BoundingBox]:
    events = [
        InspectionEvent.model_validate_json(i.body) for i in node.outbox.pending(1000) if i.kind == "event"
    ]
    (event,) = [e for e in events if e.evidence_ref == evidence_id]
    return [r.bbox for r in event.regions]


def test_crop_defects_stores_only_the_defects_and_their_context_redacted_first(node_run: NodeRun) -> None:
    stored_box = BoundingBox(x=STORED[0], y=STORED[1], width=STORED[2], height=STORED[3])
    window = context_window((H, W), stored_box)
    # Hides the whole window it is shown (black): the stored crop must come out of the redacted window.
    redactor = _SeeingRedactor([Box(0, 0, window.width, window.height)])
    settings = {"crop": "defects", "defect_context_px": 8}
    node, _, _ = node_run({"roi": ROI, "redaction": "black", "evidence": settings}, redactor)
    records = node.evidence.records()
    assert records
    # Redaction looked at the context window of the whole ROI + margin, not of the smaller crop.
    assert redactor.shapes and set(redactor.shapes) == {(window.height, window.width, 3)}
    for record in records:
        boxes = _decisive_boxes(node, record.evidence_id)
        assert boxes  # the failing frame's regions
        x0, y0 = min(b.x for b in boxes) - 8, min(b.y for b in boxes) - 8
        x1 = max(b.x + b.width for b in boxes) + 8
        y1 = max(b.y + b.height for b in boxes) + 8
        assert record.region == f"{x0},{y0},{x1 - x0},{y1 - y0}"  # signed with the image (v2 statement)
        assert record.statement_fields("node-1")["stored_region"] == {
            "x": x0,
            "y": y0,
            "width": x1 - x0,
            "height": y1 - y0,
        }
        image = node.evidence.image(record.evidence_id)
        assert image.shape[:2] == (y1 - y0, x1 - x0)
        assert image.shape[0] * image.shape[1] < STORED[2] * STORED[3] / 4  # less kept than the ROI
        assert int(image.max()) <= 8  # blacked out by the redactor before it was cut and stored
        assert record.defect_hidden


def test_crop_defects_without_redaction_keeps_the_pixels_of_the_defects(node_run: NodeRun) -> None:
    node, _, _ = node_run({"roi": ROI, "evidence": {"crop": "defects", "defect_context_px": 8}})
    for record in node.evidence.records():
        box = record.region_box
        assert box is not None
        image = node.evidence.image(record.evidence_id)
        frame = _marked_frame(0)[box.y : box.y + box.height, box.x : box.x + box.width]
        # The same pixels as the frame there (any of the four frames: they differ by 0-3 grey levels).
        assert float(np.abs(image.astype(int) - frame.astype(int)).mean()) < 8
        assert _green(image) == 0


def test_kept_region_is_the_defects_plus_context_inside_the_stored_region() -> None:
    stored = BoundingBox(x=84, y=44, width=152, height=132)
    defects = CameraEvidenceConfig(crop="defects", defect_context_px=10)
    a = BoundingBox(x=120, y=80, width=10, height=10)
    b = BoundingBox(x=150, y=100, width=20, height=5)
    assert kept_region(stored, [a, b], defects) == BoundingBox(x=110, y=70, width=70, height=45)
    # Near the edge: clipped to the stored region, never beyond it.
    edge = BoundingBox(x=86, y=46, width=4, height=4)
    assert kept_region(stored, [edge], defects) == BoundingBox(x=84, y=44, width=16, height=16)
    # A box partly outside the stored region counts only with its inside part; one wholly outside not at all.
    outside = BoundingBox(x=0, y=0, width=20, height=20)
    assert kept_region(stored, [outside, a], defects) == BoundingBox(x=110, y=70, width=30, height=30)
    # No region on the frame (a sampled pass), or only ones outside: the whole stored region.
    assert kept_region(stored, [], defects) == stored
    assert kept_region(stored, [outside], defects) == stored
    # crop: roi (the default) keeps the stored region whatever the defects.
    assert kept_region(stored, [a], CameraEvidenceConfig()) == stored


def test_a_crop_inside_a_larger_region_is_redacted_in_the_larger_regions_window() -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    stored = BoundingBox(x=100, y=50, width=80, height=60)
    kept = BoundingBox(x=120, y=60, width=20, height=20)
    crop = cut(frame, kept, [BoundingBox(x=125, y=65, width=5, height=5)], context_of=stored)
    assert (
        crop.window == context_window(frame.shape, stored) == BoundingBox(x=60, y=10, width=160, height=140)
    )
    assert crop.region == kept and crop.stored(crop.context).shape == (20, 20, 3)
    assert crop.defects == ((5, 5, 10, 10),)
    with pytest.raises(InputError, match="is not inside the region"):
        cut(frame, BoundingBox(x=90, y=60, width=20, height=20), context_of=stored)


def test_crop_defects_with_full_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="choose one"):
        CameraEvidenceConfig(
            full_frame=True, full_frame_purpose="whole frame for this test case", crop="defects"
        )
