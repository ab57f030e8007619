"""Privacy zones are black before any stage sees the frame; wrong frames are refused."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import numpy as np
import pytest

from lineguard.config.edge import PrivacyZone, Roi
from lineguard.contracts.errors import InputError
from lineguard.contracts.types import CapturedFrame, SourceState
from lineguard.edge.capture import PrivacyMask
from lineguard.edge.pipeline import Arrival, CameraStats, CaptureWorker
from lineguard.edge.preprocess import FrameCheck, crop_roi
from lineguard.edge.workers import LatestQueue


class OneFrame:
    """A source that yields one white frame, then ends."""

    camera_id = "cam-1"

    def __init__(self) -> None:
        self.state = SourceState.CONNECTING
        self.sent = False

    def open(self) -> None:
        self.state = SourceState.STREAMING

    def read(self) -> CapturedFrame | None:
        if self.sent:
            self.state = SourceState.ENDED
            return None
        self.sent = True
        image = np.full((120, 160, 3), 255, np.uint8)
        return CapturedFrame("cam-1", 0, datetime.now(UTC), image)

    def close(self) -> None:
        pass


def test_capture_worker_blacks_out_zones_before_queueing() -> None:
    stop = threading.Event()
    queue: LatestQueue[Arrival] = LatestQueue(2)
    zone = PrivacyZone(name="walkway", points=[(0, 0), (40, 0), (40, 120), (0, 120)])
    worker = CaptureWorker(stop, OneFrame(), PrivacyMask([zone]), queue, CameraStats("cam-1"))
    worker.setup()
    worker.step()
    arrival = queue.get(1)
    assert arrival is not None
    image = arrival.frame.image
    assert (image[:, :40] == 0).all()  # inside the zone (its right edge included)
    assert (image[:, 42:] == 255).all()  # outside untouched


def test_triangle_zone_blacks_only_its_pixels() -> None:
    image = np.full((100, 100, 3), 200, np.uint8)
    PrivacyMask([PrivacyZone(points=[(0, 0), (99, 0), (0, 99)])]).apply(image)
    assert (image[5, 5] == 0).all()
    assert (image[95, 95] == 200).all()


def test_frame_of_another_size_is_refused_with_both_sizes() -> None:
    check = FrameCheck("cam-1")
    check.check(np.zeros((720, 1280, 3), np.uint8))
    with pytest.raises(InputError, match=r"frame is 640x480, expected 1280x720"):
        check.check(np.zeros((480, 640, 3), np.uint8))


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (np.zeros((10, 10), np.uint8), "HxWx3"),
        (np.zeros((10, 10, 3), np.float32), "uint8"),
        ("not an image", "uint8"),
    ],
)
def test_malformed_frames_are_refused(image: object, expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        FrameCheck("cam-1").check(image)


def test_roi_crop_reports_its_place_in_the_full_frame_and_clips() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    crop, box = crop_roi(image, Roi(x=150, y=10, width=100, height=50))
    assert crop.shape == (50, 50, 3)
    assert (box.x, box.y, box.width, box.height) == (150, 10, 50, 50)
    with pytest.raises(InputError, match="outside the 200x100 frame"):
        crop_roi(image, Roi(x=300, y=0, width=10, height=10))
