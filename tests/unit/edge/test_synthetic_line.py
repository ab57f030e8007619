"""The synthetic production line: deterministic, with ground truth, and an MVTec dataset."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lineguard.config.edge import SyntheticSource
from lineguard.contracts.errors import InputError
from lineguard.edge.capture import DEFECT_KINDS, SyntheticLine, render_part, write_mvtec_dataset


def _line(seed: int = 1, **kw: float) -> SyntheticLine:
    cfg = SyntheticSource(type="synthetic", width=640, height=360, seed=seed, **kw)  # type: ignore[arg-type]
    return SyntheticLine("cam-1", cfg, realtime=False)


def test_same_seed_same_frames_other_seed_other_frames() -> None:
    assert np.array_equal(_line(3).render(17), _line(3).render(17))
    assert not np.array_equal(_line(3).render(17), _line(4).render(17))


def test_ground_truth_names_defects_and_people_where_they_are() -> None:
    line = _line(seed=2, defect_rate=0.5, person_rate=0.5)
    truths = [line.truth(i * line.frames_per_part) for i in range(40)]
    defective = [t for t in truths if t.defect is not None]
    assert {t.defect for t in defective} <= set(DEFECT_KINDS)
    assert 8 <= len(defective) <= 32  # about half, by seed
    for t in defective:
        assert t.defect_box is not None
        box, part = t.defect_box, t.part_box
        assert part.x <= box.x and box.x + box.width <= part.x + part.width
    with_person = [t for t in truths if t.person_box is not None]
    assert with_person, "some part cycles have a person walking through"
    # The person is really drawn: the box differs from the same frame without one.
    quiet = _line(seed=2, defect_rate=0.5, person_rate=0.0)
    fid = with_person[0].part_index * line.frames_per_part
    pb = with_person[0].person_box
    assert pb is not None
    diff = cv2.absdiff(line.render(fid), quiet.render(fid))[pb.y : pb.y + pb.height, pb.x : pb.x + pb.width]
    assert diff.mean() > 10


@pytest.mark.parametrize("kind", DEFECT_KINDS)
def test_each_defect_kind_changes_the_part_where_its_mask_says(kind: str) -> None:
    good = render_part(200, np.random.default_rng(5), None)
    bad = render_part(200, np.random.default_rng(5), kind)  # type: ignore[arg-type]
    mask = bad.defect_mask > 0
    assert mask.any()
    inside = np.abs(good.image.astype(int) - bad.image.astype(int))[mask].mean()
    good_alpha, bad_alpha = good.alpha > 0, bad.alpha > 0
    outside = np.abs(good.image.astype(int) - bad.image.astype(int))[~mask & good_alpha & bad_alpha].mean()
    changed_shape = (good_alpha != bad_alpha)[mask].any()  # a missing hole changes the outline
    assert inside > 5 * max(outside, 0.1) or (kind == "missing_hole" and changed_shape)


def test_parts_have_texture_and_lighting_not_flat_grey() -> None:
    part = render_part(200, np.random.default_rng(0), None)
    steel = part.image[part.alpha > 0].astype(float)
    assert steel.std() > 8


def test_source_paces_frames_and_numbers_them() -> None:
    line = SyntheticLine(
        "cam-1", SyntheticSource(type="synthetic", width=128, height=96), realtime=False, max_frames=3
    )
    line.open()
    frames = [line.read() for _ in range(4)]
    assert [f.frame_id for f in frames if f] == [0, 1, 2]
    assert frames[0] is not None and frames[0].part_id == "part-000000"
    assert frames[3] is None


def test_mvtec_dataset_layout(tmp_path: Path) -> None:
    root = write_mvtec_dataset(tmp_path / "ds", n_train_good=3, n_test_good=1, n_test_per_defect=1, size=64)
    assert len(list((root / "train" / "good").glob("*.png"))) == 3
    for kind in DEFECT_KINDS:
        image = cv2.imread(str(root / "test" / kind / "000.png"))
        mask = cv2.imread(str(root / "ground_truth" / kind / "000_mask.png"), cv2.IMREAD_GRAYSCALE)
        assert image.shape == (64, 64, 3)
        assert mask.shape == (64, 64) and mask.max() == 255
    with pytest.raises(InputError, match="not empty"):
        write_mvtec_dataset(root, n_train_good=1)


@pytest.mark.parametrize(
    ("kind", "least_visible"), [("dent", 0.95), ("contamination", 0.95), ("scratch", 0.4)]
)
def test_a_defect_is_drawn_on_metal_not_in_a_hole(kind: str, least_visible: float) -> None:
    """The truth calls a part defective only where the defect can be seen: a dent placed
    in a hole (punched out afterwards) was invisible, and counted as a missed defect. A
    scratch starts on metal and may run across a hole (as real ones do)."""
    for seed in range(40):
        part = render_part(200, np.random.default_rng(seed), kind)  # type: ignore[arg-type]
        mask = part.defect_mask > 0
        visible = (mask & (part.alpha > 127)).sum() / mask.sum()
        assert visible >= least_visible, (seed, visible)
