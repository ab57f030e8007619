"""Counting rules: zones by the feet, privacy wins, small and unjudged people not counted, hours close
into suppressed messages. The finder is scripted (which boxes a frame holds); the classifier is the
shipped one, run on generated workers whose PPE is known."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lineguard.config.edge import PpeCameraConfig
from lineguard.contracts.errors import ConfigError, InputError
from lineguard.edge.ppe import HourlyTally, PersonBox, PpeClassifier, PpeCounter, ScriptedFinder
from lineguard.edge.ppe.render import draw_worker, random_look, walkway_background
from tests.unit.edge.ppe.test_config import _config, ppe_camera

T0 = dt.datetime(2026, 12, 6, 7, 10, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def classifier() -> PpeClassifier:
    return PpeClassifier.load()


def _walkway(tmp_path: Path, **ppe: Any) -> tuple[Any, PpeCameraConfig]:
    config = _config(tmp_path, ppe_camera(**ppe))
    return config.node, config.ppe_cameras[0]


def _frame_with(people: list[tuple[bool, bool, int]]) -> tuple[np.ndarray, list[PersonBox]]:
    """A 640x480 walkway with workers (helmet, vest, foot x); their boxes as the detector would give them."""
    rng = np.random.default_rng(7)
    img = walkway_background(rng, 480, 640)
    boxes = []
    for helmet, vest, foot_x in people:
        look = random_look(rng, helmet=helmet, vest=vest, hard=0.0)
        mask = draw_worker(img, rng, look, foot_x=foot_x, foot_y=440, height_px=300)
        ys, xs = np.nonzero(mask)
        boxes.append(PersonBox(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1, 0.9))
    return img, boxes


def test_people_are_tallied_per_zone_and_the_hour_closes_into_suppressed_counts(
    tmp_path: Path, classifier: PpeClassifier
) -> None:
    node, cam = _walkway(
        tmp_path,
        zones=[
            {"name": "left", "x": 0, "y": 100, "width": 320, "height": 380},
            {"name": "right", "x": 320, "y": 100, "width": 320, "height": 380, "required": ["helmet"]},
        ],
    )
    img, boxes = _frame_with([(False, True, 120), (True, False, 480)])
    counter = PpeCounter(node, cam, finder=ScriptedFinder([boxes]), classifier=classifier)
    assert classifier.wears(_crop(img, boxes[0])) == {"helmet": False, "hi_vis_vest": True}
    assert classifier.wears(_crop(img, boxes[1])) == {"helmet": True, "hi_vis_vest": False}
    for i in range(4):  # four sampled frames in the 07:00 hour
        assert counter.observe(img, T0 + dt.timedelta(minutes=i)) == []
    messages = counter.observe(img, T0 + dt.timedelta(hours=1))  # the 08:00 hour starts: 07:00 closes
    by_zone = {m.zone: m for m in messages}
    assert set(by_zone) == {"left", "right"}
    left, right = by_zone["left"], by_zone["right"]
    assert left.hour_start == T0.replace(minute=0) and left.sampled_frames == 4 and left.min_count == 3
    assert left.people_seen == 4
    assert {i.item: i.lacking for i in left.items} == {"helmet": 4, "hi_vis_vest": 0}
    # The right zone requires only a helmet: the missing vest is not its business.
    assert right.people_seen == 4 and {i.item: i.lacking for i in right.items} == {"helmet": 0}
    assert counter.skipped.counted == 10 and counter.tally.hour == T0.replace(hour=8, minute=0)


def _crop(img: np.ndarray, b: PersonBox) -> Any:
    from lineguard.edge.ppe import crop_person

    return crop_person(img, (b.x0, b.y0, b.x1, b.y1))


def test_counts_below_the_minimum_never_leave(tmp_path: Path, classifier: PpeClassifier) -> None:
    node, cam = _walkway(tmp_path, min_count=5)
    img, boxes = _frame_with([(False, False, 200), (True, True, 450)])
    counter = PpeCounter(node, cam, finder=ScriptedFinder([boxes]), classifier=classifier)
    counter.observe(img, T0)  # 2 people: fewer than 5
    (row,) = counter.close()
    assert row.suppressed and row.people_seen is None and all(i.lacking is None for i in row.items)
    counter.observe(img, T0)
    counter.observe(img, T0 + dt.timedelta(minutes=1))
    counter.observe(img, T0 + dt.timedelta(minutes=2))  # 6 sightings, 3 lacking each item: 3 < 5
    (row,) = counter.close()
    assert row.people_seen == 6 and {i.item: i.lacking for i in row.items} == {
        "helmet": None,
        "hi_vis_vest": None,
    }


def test_a_person_touching_a_privacy_zone_is_not_counted_even_with_feet_in_the_zone(
    tmp_path: Path, classifier: PpeClassifier
) -> None:
    """Privacy wins at run time too: the zones may not overlap, but a person may straddle the edge."""
    door = {"name": "office-door", "points": [[0, 0], [100, 0], [100, 480], [0, 480]]}
    aisle = {"name": "aisle", "x": 100, "y": 100, "width": 540, "height": 380}
    node, cam = _walkway(tmp_path, privacy_zones=[door], zones=[aisle])
    img, boxes = _frame_with([(True, True, 120), (True, True, 450)])  # the first one's arm is in the door
    assert boxes[0].x0 < 100 <= (boxes[0].x0 + boxes[0].x1) // 2
    counter = PpeCounter(node, cam, finder=ScriptedFinder([boxes]), classifier=classifier)
    counter.observe(img, T0)
    assert counter.skipped.privacy == 1 and counter.skipped.counted == 1


def test_small_weak_and_zoneless_people_are_not_counted(tmp_path: Path, classifier: PpeClassifier) -> None:
    node, cam = _walkway(tmp_path, zones=[{"name": "aisle", "x": 300, "y": 100, "width": 340, "height": 380}])
    boxes = [
        PersonBox(10, 10, 40, 60, 0.9),  # 50 px tall: under min_person_height_px (80)
        PersonBox(400, 100, 500, 400, 0.2),  # below person_score
        PersonBox(50, 100, 150, 400, 0.9),  # feet at x=100: outside the zone
    ]
    counter = PpeCounter(node, cam, finder=ScriptedFinder([boxes]), classifier=classifier)
    counter.observe(np.zeros((480, 640, 3), np.uint8), T0)
    s = counter.skipped
    assert (s.too_small, s.low_score, s.outside_zones, s.counted) == (1, 1, 1, 0)
    (row,) = counter.close()
    assert row.people_seen == 0 and {i.item: i.lacking for i in row.items} == {"helmet": 0, "hi_vis_vest": 0}


def test_a_zone_outside_the_frame_is_refused_on_the_first_frame(
    tmp_path: Path, classifier: PpeClassifier
) -> None:
    node, cam = _walkway(tmp_path, zones=[{"name": "far", "x": 600, "y": 0, "width": 100, "height": 100}])
    counter = PpeCounter(node, cam, finder=ScriptedFinder([[]]), classifier=classifier)
    with pytest.raises(
        ConfigError, match=r"PPE zone 'far' spans x 600..700, y 0..100, outside the 640x480 frame"
    ):
        counter.observe(np.zeros((480, 640, 3), np.uint8), T0)
    counter.observe(np.zeros((480, 800, 3), np.uint8), T0)  # a wider frame holds it


def test_a_frame_that_is_not_colour_is_refused(tmp_path: Path, classifier: PpeClassifier) -> None:
    node, cam = _walkway(tmp_path)
    counter = PpeCounter(node, cam, finder=ScriptedFinder([[]]), classifier=classifier)
    with pytest.raises(InputError, match="expected an HxWx3 uint8 frame"):
        counter.observe(np.zeros((480, 640), np.uint8), T0)


def test_a_classifier_that_lacks_a_required_item_is_refused(
    tmp_path: Path, classifier: PpeClassifier
) -> None:
    node, cam = _walkway(tmp_path)
    helmet_only = PpeClassifier.__new__(PpeClassifier)
    helmet_only.items, helmet_only.model_id = ("helmet",), "ppe-test:1"
    with pytest.raises(ConfigError, match=r"cannot judge \['hi_vis_vest'\]"):
        PpeCounter(node, cam, finder=ScriptedFinder([[]]), classifier=helmet_only)


def test_an_hour_without_frames_sends_nothing_and_a_clock_step_back_stays_in_the_open_hour(
    tmp_path: Path,
) -> None:
    node, cam = _walkway(tmp_path)
    tally = HourlyTally(node, cam.ppe, camera_id="cam-walk", station_id="walkway", classifier_id="c:1")
    assert tally.close() == []
    assert tally.advance(T0) == []
    tally.frame_seen()
    assert tally.advance(T0 - dt.timedelta(hours=2)) == []  # NTP stepped back: no hour is closed
    (row,) = tally.close()
    assert row.hour_start == T0.replace(minute=0) and row.sampled_frames == 1
