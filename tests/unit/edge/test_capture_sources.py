"""Frame sources: folder, video file, MJPEG over real loopback HTTP, registry, conformance."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from lineguard.config.edge import CameraConfig, FolderSource, RtspSource, VideoFileSource
from lineguard.config.secrets import DEMO_MODE_ENV
from lineguard.contracts.errors import ImageDecodeError, InputError
from lineguard.contracts.types import CapturedFrame, FrameSource, SourceState
from lineguard.edge.capture import (
    SOURCE_TYPES,
    FolderFrameSource,
    StreamFrameSource,
    SyntheticLine,
    VideoFileFrameSource,
    build_source,
)
from tests.unit.edge.mjpeg import MjpegCamera

#: How long a test waits for frames or a state it expects: generous, a wait and not a timing
#: assertion (the suite shares two cores with others; a worker can stall for seconds).
WAIT_S = 60.0


def _read_until(source: FrameSource, count: int, timeout_s: float = WAIT_S) -> list[CapturedFrame]:
    frames: list[CapturedFrame] = []
    deadline = time.monotonic() + timeout_s
    while len(frames) < count and time.monotonic() < deadline:
        frame = source.read()
        if frame is not None:
            frames.append(frame)
        elif source.state is SourceState.ENDED:
            break
    return frames


def _read_until_state(source: FrameSource, state: SourceState) -> None:
    """Keep reading (each read is where a source notices a change) until it is in ``state``."""
    deadline = time.monotonic() + WAIT_S
    while source.state is not state:
        assert time.monotonic() < deadline, f"still {source.state} after {WAIT_S:.0f} s, not {state}"
        source.read()


def _png(path: Path, value: int) -> None:
    cv2.imwrite(str(path), np.full((32, 48, 3), value, np.uint8))


def test_folder_source_yields_each_new_file_once_in_order(tmp_path: Path) -> None:
    _png(tmp_path / "P-001.png", 10)
    source = FolderFrameSource("cam-1", FolderSource(type="folder", path=tmp_path, poll_interval_ms=10))
    source.open()
    first = _read_until(source, 1)
    _png(tmp_path / "P-002.png", 20)
    second = _read_until(source, 1)
    assert [f.part_id for f in first + second] == ["P-001", "P-002"]
    assert [int(f.image[0, 0, 0]) for f in first + second] == [10, 20]
    assert [f.frame_id for f in first + second] == [0, 1]
    assert _read_until(source, 1, timeout_s=0.2) == []  # nothing is read twice


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_folder_source_reports_a_bad_file_by_name_then_carries_on(tmp_path: Path, damage: str) -> None:
    good = cv2.imencode(".png", np.zeros((32, 32, 3), np.uint8))[1].tobytes()
    bad = good[: len(good) // 2] if damage == "truncated" else b"\x89PNG not really"
    (tmp_path / "a.png").write_bytes(bad)
    source = FolderFrameSource("cam-1", FolderSource(type="folder", path=tmp_path, poll_interval_ms=10))
    source.open()
    with pytest.raises(ImageDecodeError, match=r"a\.png"):
        _read_until(source, 1)
    _png(tmp_path / "b.png", 5)
    assert [f.part_id for f in _read_until(source, 1)] == ["b"]


def test_missing_folder_fails_clearly_and_a_vanished_one_reports_reconnecting(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        FolderFrameSource("cam-1", FolderSource(type="folder", path=tmp_path / "nope")).open()
    watched = tmp_path / "share"
    watched.mkdir()
    source = FolderFrameSource("cam-1", FolderSource(type="folder", path=watched, poll_interval_ms=10))
    source.open()
    watched.rmdir()
    _read_until_state(source, SourceState.RECONNECTING)


def _video(path: Path, frames: int) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 25, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), i * 20, np.uint8))
    writer.release()


def test_video_file_source_reads_every_frame_then_ends(tmp_path: Path) -> None:
    _video(tmp_path / "line.mp4", 5)
    source = VideoFileFrameSource("cam-1", VideoFileSource(type="video", path=tmp_path / "line.mp4"))
    source.open()
    frames = _read_until(source, 10)  # returns when the video ends
    assert len(frames) == 5
    assert frames[0].image.shape == (48, 64, 3)
    assert source.state is SourceState.ENDED


def test_video_file_source_loops_when_asked(tmp_path: Path) -> None:
    _video(tmp_path / "line.mp4", 3)
    source = VideoFileFrameSource(
        "cam-1", VideoFileSource(type="video", path=tmp_path / "line.mp4", loop=True)
    )
    source.open()
    assert len(_read_until(source, 7)) == 7


def test_missing_or_corrupt_video_fails_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        VideoFileFrameSource("c", VideoFileSource(type="video", path=tmp_path / "gone.mp4")).open()
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(ImageDecodeError, match=r"junk\.mp4 is not a decodable video"):
        VideoFileFrameSource("c", VideoFileSource(type="video", path=tmp_path / "junk.mp4")).open()


def test_mjpeg_stream_over_http_reconnects_after_the_camera_vanishes() -> None:
    camera = MjpegCamera()
    camera.start()
    source = StreamFrameSource("cam-1", RtspSource(type="mjpeg", url=camera.url, reconnect_max_s=1))
    try:
        source.open()
        frames = _read_until(source, 3)
        assert len(frames) == 3
        assert source.state is SourceState.STREAMING
        camera.stop()
        _read_until_state(source, SourceState.RECONNECTING)
        assert source.last_error == "stream stopped delivering frames"
        camera.start()  # same port: the camera comes back
        assert len(_read_until(source, 2)) == 2
        assert source.state is SourceState.STREAMING
        assert source.reconnects >= 1
    finally:
        source.close()
        camera.stop()


def test_stream_urls_never_reach_logs_with_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEMO_MODE_ENV, "1")  # outside the demo a password in the URL is refused
    source = StreamFrameSource("c", RtspSource(type="rtsp", url="rtsp://admin:secret@10.0.0.5/s"))
    assert source.target == "rtsp://***@10.0.0.5/s"


def test_registry_builds_each_configured_kind(tmp_path: Path) -> None:
    assert set(SOURCE_TYPES) == {"folder", "video", "rtsp", "mjpeg", "usb", "synthetic"}
    cam = CameraConfig.model_validate(
        {
            "camera_id": "c",
            "station_id": "s",
            "model": str(tmp_path),
            "source": {"type": "synthetic"},
            "roi": {"x": 0, "y": 0, "width": 64, "height": 64},
        }
    )
    assert isinstance(build_source(cam), SyntheticLine)


def test_every_source_conforms_to_the_frame_source_protocol(tmp_path: Path) -> None:
    _video(tmp_path / "v.mp4", 2)
    sources = [
        FolderFrameSource("c", FolderSource(type="folder", path=tmp_path)),
        VideoFileFrameSource("c", VideoFileSource(type="video", path=tmp_path / "v.mp4")),
        StreamFrameSource("c", RtspSource(type="mjpeg", url="http://127.0.0.1:9/x")),
        SyntheticLine(
            "c", __import__("lineguard.config.edge", fromlist=["x"]).SyntheticSource(type="synthetic")
        ),
    ]
    for source in sources:
        assert isinstance(source, FrameSource)
        assert source.camera_id == "c"
        assert isinstance(source.state, SourceState)


def test_source_types_follow_the_config_union(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry is derived from the discriminated union: a config class without a
    reader is refused at import time, by name, instead of failing when a camera uses it."""
    from lineguard.edge.capture import registry

    assert registry._source_types() == SOURCE_TYPES
    monkeypatch.delitem(registry.READERS, VideoFileSource)
    with pytest.raises(TypeError, match="VideoFileSource has no reader"):
        registry._source_types()
