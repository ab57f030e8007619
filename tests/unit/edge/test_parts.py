"""From frames to parts: identity hooks (line, barcode, trigger, tracker), the fusion rule,
and the bad input (stuck conveyor, two parts in view, frames out of order)."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import cv2
import numpy as np
import pytest

from lineguard.config.edge import PartsConfig, SyntheticSource
from lineguard.contracts.events import PartIdSource, Verdict
from lineguard.contracts.types import CapturedFrame
from lineguard.edge.capture import SyntheticLine
from lineguard.edge.decide import (
    ClosedPart,
    FrameJudgement,
    PartFuser,
    Sighting,
    TriggerInput,
    part_id_reader,
)
from lineguard.edge.decide.part_ids import BarcodeReader, ConveyorTracker, ViewCheck

T0 = datetime(2026, 12, 6, 8, tzinfo=UTC)


def _classify(score: float) -> Verdict:
    return Verdict.FAIL if score >= 1 else Verdict.PASS


def _judge(
    n: int, score: float, *, verdict: Verdict | None = None, at: datetime | None = None
) -> FrameJudgement:
    v = verdict or (Verdict.FAIL if score >= 1 else Verdict.PASS)
    return FrameJudgement(f"evt_{n}", n, at or T0 + timedelta(seconds=n), v, score)


def _seen(key: str | None, *, complete: bool = True, **kw: object) -> Sighting:
    return Sighting(key, key, PartIdSource.LINE, complete=complete, **kw)  # type: ignore[arg-type]


def test_one_verdict_per_part_the_median_of_its_complete_frames() -> None:
    fuser = PartFuser(_classify)
    closed = []
    scores = {"p1": [0.2, 1.5, 0.3], "p2": [0.1, 0.2, 0.1], "p3": [1.2, 1.6, 0.4]}
    n = 0
    for key, values in scores.items():
        for score in values:
            closed += fuser.add(_seen(key), _judge(n, score)).closed
            n += 1
    closed += fuser.flush()
    assert [(p.key, p.score, p.verdict, p.decisive.event_id, len(p.frames), p.fused) for p in closed] == [
        # One frame alone saw a defect: the part is uncertain (a person looks), not rejected.
        ("p1", 0.3, Verdict.UNCERTAIN, "evt_1", 3, 3),
        ("p2", 0.1, Verdict.PASS, "evt_4", 3, 3),
        # Most frames see it: the part fails; its image is the frame that saw it best.
        ("p3", 1.2, Verdict.FAIL, "evt_7", 3, 3),
    ]
    assert [p.closed_by for p in closed] == ["next_part", "next_part", "shutdown"]


def test_an_incomplete_frame_never_decides_unless_the_part_had_no_complete_frame() -> None:
    fuser = PartFuser(_classify)
    closed = fuser.add(_seen("p1", complete=False), _judge(0, 9.0)).closed  # a worker's arm over the part
    closed += fuser.add(_seen("p1"), _judge(1, 0.2)).closed
    closed += fuser.add(_seen("p2", complete=False), _judge(2, 3.0)).closed
    closed += fuser.add(_seen(None), _judge(3, 0.0)).closed  # the belt is empty: p2 has left
    p1, p2 = closed
    assert (p1.verdict, p1.decisive.event_id, p1.fused, p1.anomalies) == (Verdict.PASS, "evt_1", 1, [])
    assert (p2.verdict, p2.fused, p2.anomalies, p2.closed_by) == (
        Verdict.FAIL,
        0,
        ["partial_only"],
        "next_part",
    )
    assert fuser.flush() == []


def test_a_stuck_part_is_judged_once_and_its_later_frames_are_diagnostic() -> None:
    fuser = PartFuser(_classify, max_part_frames=5)
    steps = [fuser.add(_seen("stuck"), _judge(i, 0.1)) for i in range(12)]
    closed = [p for s in steps for p in s.closed]
    assert [(p.key, p.closed_by, p.anomalies, len(p.frames)) for p in closed] == [
        ("stuck", "stuck", ["stuck"], 5)
    ]
    assert [s.taken for s in steps] == [True] * 5 + [False] * 7
    assert fuser.ignored_frames == 7
    # The belt moves again: the next part is a part.
    assert fuser.add(_seen("next"), _judge(12, 0.1)).taken
    assert [p.key for p in fuser.flush()] == ["next"]


def test_two_parts_in_view_are_flagged_and_not_judged_on() -> None:
    fuser = PartFuser(_classify)
    fuser.add(_seen("p1"), _judge(0, 0.1))
    fuser.add(_seen("p1", complete=False, anomalies=frozenset({"two_parts_in_view"})), _judge(1, 5.0))
    (part,) = fuser.flush()
    assert (part.verdict, part.anomalies) == (Verdict.PASS, ["two_parts_in_view"])


def test_frames_out_of_order_after_a_reconnect_do_not_reopen_a_judged_part() -> None:
    fuser = PartFuser(_classify)
    fuser.add(_seen("p1"), _judge(0, 0.1))
    fuser.add(_seen("p2"), _judge(1, 0.1))
    late = fuser.add(_seen("p1"), _judge(0, 7.0))  # the source replays p1 after reconnecting
    assert (late.taken, late.closed, fuser.late_frames) == (False, [], 1)
    # A frame of the open part captured before its latest one still counts, flagged.
    fuser.add(_seen("p2"), _judge(2, 0.3, at=T0 - timedelta(seconds=5)))
    (p2,) = fuser.flush()
    assert (p2.key, len(p2.frames), p2.anomalies) == ("p2", 2, ["out_of_order"])


def test_only_the_decisive_frame_keeps_its_payload() -> None:
    fuser = PartFuser(_classify)
    for i, score in enumerate([0.1, 0.9, 0.3]):
        frame = _judge(i, score)
        fuser.add(
            _seen("p"),
            FrameJudgement(frame.event_id, i, frame.captured_at, frame.verdict, score, (), f"img{i}"),
        )
    (part,) = fuser.flush()
    assert [f.payload for f in part.frames] == [None, "img1", None]


def _frame(image: np.ndarray, fid: int = 0, part_id: str | None = None) -> CapturedFrame:
    return CapturedFrame("cam-1", fid, T0, image, part_id)


def _with_code(text: str, *, at: int = 40) -> np.ndarray:
    import zxingcpp

    code = np.asarray(zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.DataMatrix).to_image(scale=6))
    canvas = np.full((400, 600), 255, np.uint8)
    canvas[at : at + code.shape[0], at : at + code.shape[1]] = code
    return cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)


def test_barcode_on_the_part_gives_its_id_and_a_blurred_code_stays_with_the_part() -> None:
    reader = BarcodeReader(hold_frames=2)
    coded = _with_code("P-000123")
    blank = np.full((400, 600, 3), 255, np.uint8)
    seen = [reader.sight(_frame(img), img) for img in (coded, blank, blank, blank, _with_code("P-000124"))]
    assert [(s.key, s.source) for s in seen] == [
        ("P-000123", PartIdSource.BARCODE),
        ("P-000123", PartIdSource.BARCODE),
        ("P-000123", PartIdSource.BARCODE),
        (None, PartIdSource.BARCODE),  # unreadable for longer than hold_frames: no part known
        ("P-000124", PartIdSource.BARCODE),
    ]
    assert [s.complete for s in seen[:3]] == [True, False, False]


def test_two_codes_in_view_keep_the_current_part_and_flag_it() -> None:
    reader = BarcodeReader()
    one = _with_code("P-1")
    reader.sight(_frame(one), one)
    both = np.concatenate([_with_code("P-1"), _with_code("P-2")], axis=1)
    seen = reader.sight(_frame(both), both)
    assert (seen.key, seen.complete, seen.anomalies) == ("P-1", False, frozenset({"two_parts_in_view"}))


def test_external_trigger_over_udp_starts_each_part() -> None:
    reader, listener = part_id_reader(PartsConfig(id_source="trigger"))
    assert listener is not None
    listener.start()
    try:
        image = np.zeros((40, 40, 3), np.uint8)
        assert reader.sight(_frame(image), image).key is None  # before the first trigger
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"P-9", listener.address)
            deadline = time.monotonic() + 60  # waits, generous for a loaded machine
            while reader.sight(_frame(image), image).key != "P-9" and time.monotonic() < deadline:
                time.sleep(0.01)
            s.sendto(b"", listener.address)  # a trigger without an id: the node numbers it
            s.sendto(b"not an id!", listener.address)
            while listener.refused == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
        seen = reader.sight(_frame(image), image)
        assert (seen.key, seen.part_id, seen.source) == ("trg-00000003", None, PartIdSource.TRIGGER)
        assert listener.refused == 1
    finally:
        listener.stop()


def test_trigger_input_in_process() -> None:
    trigger = TriggerInput()
    image = np.zeros((4, 4, 3), np.uint8)
    assert trigger.trigger("P-1") == "P-1"
    assert trigger.sight(_frame(image), image).key == "P-1"
    assert trigger.trigger() == "trg-00000002"


@pytest.fixture(scope="module")
def line() -> SyntheticLine:
    return SyntheticLine("cam-1", SyntheticSource(type="synthetic", seed=7, person_rate=0.3), realtime=False)


def _crop(line: SyntheticLine, fid: int) -> np.ndarray:
    r = line.part_roi()
    return line.render(fid)[r.y : r.y + r.height, r.x : r.x + r.width]


def test_the_tracker_finds_the_synthetic_lines_parts_without_an_id(line: SyntheticLine) -> None:
    tracker = ConveyorTracker(ViewCheck())
    keys = [tracker.sight(_frame(_crop(line, f), f), _crop(line, f)).key for f in range(60)]
    truth = [line.truth(f).part_index for f in range(60)]
    # Same grouping as the line's own part ids: a new key exactly when a new part arrives.
    assert [a != b for a, b in pairwise(keys)] == [a != b for a, b in pairwise(truth)]


def test_the_view_check_refuses_frames_where_a_worker_is_over_the_part(line: SyntheticLine) -> None:
    view, roi = ViewCheck(), line.part_roi()
    results = []
    for f in range(180):
        person = line.truth(f).person_box
        over = person is not None and min(person.x + person.width, roi.x + roi.width) > max(person.x, roi.x)
        results.append((over, view.look(_crop(line, f)).complete))
    assert any(over for over, _ in results)
    assert all(complete != over for over, complete in results)


def test_views_are_the_complete_frames_with_images_bounded_and_spread() -> None:
    fuser = PartFuser(_classify, max_views=4)
    for i in range(10):
        frame = _judge(i, 0.9 if i == 5 else 0.1)
        fuser.add(
            _seen("p", complete=i not in (0, 9)),  # entering and leaving: not fully in view
            FrameJudgement(frame.event_id, i, frame.captured_at, frame.verdict, frame.score, (), f"img{i}"),
        )
    (part,) = fuser.flush()
    kept = [f.payload for f in part.frames if f.payload is not None]
    views = [f.payload for f in part.views]
    assert views == kept  # capture order, every image kept is a view
    # At most 4, the decisive frame (5) among them, never a frame the part was not fully in
    # (0, 9); over the bound every other one was let go, so they spread over the crossing.
    assert views == ["img1", "img5", "img6", "img8"]
    assert part.decisive.payload == "img5"


def test_with_no_complete_frame_the_decisive_frame_is_the_only_view() -> None:
    fuser = PartFuser(_classify, max_views=4)
    for i in range(3):
        frame = _judge(i, 0.1 * (i + 1))
        fuser.add(
            _seen("p", complete=False),
            FrameJudgement(frame.event_id, i, frame.captured_at, frame.verdict, frame.score, (), f"img{i}"),
        )
    (part,) = fuser.flush()
    assert [f.payload for f in part.views] == [part.decisive.payload] == ["img2"]


def test_max_views_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_views"):
        PartFuser(_classify, max_views=0)


def _parts(fuser: PartFuser, frames_per_part: dict[str, list[float]]) -> list[ClosedPart]:
    closed: list[ClosedPart] = []
    n = 0
    for key, scores in frames_per_part.items():
        for score in scores:
            closed += fuser.add(_seen(key), _judge(n, score)).closed
            n += 1
    return closed + fuser.flush()


def test_a_part_judged_on_fewer_frames_than_expected_is_marked_views_short_and_counted() -> None:
    """Under load the node judged ~2 frames a part instead of ~5: such parts say so; the verdict stays
    automatic unless min_frames_per_part is set."""
    fuser = PartFuser(_classify, expected_frames=5)
    closed = _parts(fuser, {"p1": [0.1] * 5, "p2": [1.3, 1.4], "p3": [0.2] * 6})
    assert [(p.fused, p.frames_expected, p.views_short, p.verdict) for p in closed] == [
        (5, 5, False, Verdict.PASS),
        (2, 5, True, Verdict.FAIL),
        (6, 5, False, Verdict.PASS),
    ]
    assert (fuser.short_parts, fuser.short_to_review) == (1, 0)


def test_min_frames_per_part_sends_short_parts_to_review_instead_of_an_automatic_verdict() -> None:
    fuser = PartFuser(_classify, expected_frames=5, min_frames=3)
    closed = _parts(fuser, {"p1": [1.3, 1.4], "p2": [0.1, 0.2], "p3": [0.1] * 4, "p4": [1.2] * 3})
    assert [(p.fused, p.views_short, p.verdict) for p in closed] == [
        (2, True, Verdict.UNCERTAIN),  # would have failed on two frames: a person decides
        (2, True, Verdict.UNCERTAIN),  # would have passed on two frames
        (4, True, Verdict.PASS),  # short of 5 but not of 3: marked, still automatic
        (3, True, Verdict.FAIL),
    ]
    assert (fuser.short_parts, fuser.short_to_review) == (4, 2)


def test_min_frames_alone_marks_the_parts_it_sends_to_review_and_partial_parts_count_as_short() -> None:
    fuser = PartFuser(_classify, min_frames=2)
    closed = fuser.add(_seen("p1"), _judge(0, 0.1)).closed
    closed += fuser.add(_seen("p2", complete=False), _judge(1, 0.1)).closed  # no complete frame
    closed += fuser.add(_seen("p2", complete=False), _judge(2, 0.1)).closed
    closed += fuser.flush()
    assert [(p.fused, p.frames_expected, p.views_short, p.verdict, p.anomalies) for p in closed] == [
        (1, 2, True, Verdict.UNCERTAIN, []),
        (0, 2, True, Verdict.UNCERTAIN, ["partial_only"]),
    ]


def test_without_expected_frames_no_part_is_marked() -> None:
    (part,) = _parts(PartFuser(_classify), {"p1": [0.1]})
    assert (part.frames_expected, part.views_short, part.verdict) == (None, False, Verdict.PASS)


@pytest.mark.parametrize("kwargs", [{"expected_frames": 0}, {"min_frames": 0}, {"min_frames": -2}])
def test_expected_or_minimum_frames_below_one_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be at least 1"):
        PartFuser(_classify, **kwargs)


def test_parts_config_bounds_and_order_of_the_frame_counts() -> None:
    assert PartsConfig(expected_frames_per_part=5, min_frames_per_part=3).min_frames_per_part == 3
    with pytest.raises(ValueError, match="min_frames_per_part 6 is above expected_frames_per_part 5"):
        PartsConfig(expected_frames_per_part=5, min_frames_per_part=6)
    for bad in (
        {"expected_frames_per_part": 0},
        {"min_frames_per_part": 0},
        {"expected_frames_per_part": "x"},
    ):
        with pytest.raises(ValueError, match="frames_per_part"):
            PartsConfig.model_validate(bad)
