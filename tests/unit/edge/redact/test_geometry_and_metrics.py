from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lineguard.edge.redact import MODELS, Box
from lineguard.edge.redact._geometry import grow_box, letterbox, merge_count, square_tiles
from lineguard.edge.redact._models import load_session
from lineguard.edge.redact.evaluation import PersonTruth, RecallReport, false_redaction


@given(
    st.integers(1, 2000),
    st.integers(1, 2000),
    st.sampled_from([1.0, 0.5, 0.3]),
)
def test_tiles_stay_inside_the_frame_and_cover_it(height: int, width: int, fraction: float) -> None:
    tiles = square_tiles(height, width, fraction)
    covered = np.zeros((height, width), bool)
    for t in tiles:
        assert t.x >= 0 and t.x + t.side <= width and t.y >= 0 and t.y + t.side <= height
        covered[t.y : t.y + t.side, t.x : t.x + t.side] = True
    assert covered.all()


def test_letterbox_maps_points_back() -> None:
    image = np.zeros((100, 300, 3), np.uint8)
    boxed = letterbox(image, 192)
    assert boxed.image.shape == (192, 192, 3)
    corner = boxed.to_crop(np.array([[boxed.pad_x, boxed.pad_y]], np.float32))
    assert np.allclose(corner, [[0, 0]], atol=1e-3)


def test_grow_box_grows_and_clips() -> None:
    box = grow_box(10, 10, 30, 50, frame_hw=(60, 40), side=0.5, top=0.5, bottom=0.5)
    assert box == Box(0, 0, 40, 60)
    assert grow_box(-100, -100, -90, -90, frame_hw=(60, 40), side=0, top=0, bottom=0) is None


def test_overlapping_boxes_count_as_one_person() -> None:
    a, b, c = Box(0, 0, 10, 10), Box(2, 2, 12, 12), Box(50, 50, 60, 60)
    assert merge_count([a, b, c]) == 2
    assert merge_count([]) == 0


@pytest.mark.parametrize("name", sorted(MODELS))
def test_anchor_layout_matches_each_detector_output(name: str) -> None:
    from lineguard.edge.redact._detectors import ssd_anchors

    session = load_session(MODELS[name], threads=1)
    (inp,) = session.get_inputs()
    assert list(inp.shape) == [1, *MODELS[name].input_hw, 3]
    if name == "face":
        assert session.get_outputs()[0].shape[1] == len(ssd_anchors(192, (4,), two_per_layer=False))
    if name == "body":
        assert session.get_outputs()[0].shape[1] == len(
            ssd_anchors(224, (8, 16, 32, 32, 32), two_per_layer=True)
        )


def _person(mask: np.ndarray, head_rows: int) -> PersonTruth:
    head = mask.copy()
    head[head_rows:] = False
    return PersonTruth(mask=mask, head=head, facing="front", height_px=10, occluded=False)


def test_recall_needs_both_body_and_head_hidden() -> None:
    mask = np.zeros((20, 20), bool)
    mask[0:10, 0:10] = True
    person = _person(mask, 3)
    hidden_all = mask.copy()
    hidden_body_only = mask.copy()
    hidden_body_only[0:3] = False  # 70% of the body hidden, none of the head
    report = RecallReport()
    report.add("all", hidden_all, [person])
    report.add("body", hidden_body_only, [person])
    assert report.people == 2 and report.redacted == 1
    assert report.recall == 0.5
    assert report.coverage == pytest.approx((100 + 70) / 200)
    assert report.misses == [("body", 0, 0.7, 0.0)]


def test_false_redaction_rate() -> None:
    empty = np.zeros((4, 4), bool)
    some = empty.copy()
    some[0, 0] = True
    out = false_redaction([empty, some])
    assert out.frame_rate == 0.5
    assert out.mean_hidden_fraction == pytest.approx(1 / 32)
