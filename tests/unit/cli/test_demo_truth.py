"""The demo's ground truth: the file it writes lists, for each part id the synthetic line
puts on its frames, what the line really rendered (checked against the rendered frames'
own truth), the dashboard's loader accepts it, and the server config the demo writes
names it."""

from __future__ import annotations

from pathlib import Path

import yaml

from lineguard.cli.demo_cmd import _say_truth
from lineguard.cli.demo_setup import (
    CAMERA_ID,
    DemoLayout,
    _ensure_ground_truth,
    _write_server_config,
    demo_source,
)
from lineguard.config.server import ServerConfig
from lineguard.edge.capture.synthetic import SyntheticLine
from lineguard.server.dashboard import load_ground_truth


def test_the_ground_truth_is_what_the_line_renders(tmp_path: Path) -> None:
    layout = DemoLayout(tmp_path, 8443)
    _ensure_ground_truth(layout, parts_known=120)
    truth = load_ground_truth(layout.ground_truth_file)
    assert len(truth.parts) == 120 and "seed 7" in truth.source
    line = SyntheticLine(CAMERA_ID, demo_source(), realtime=False)
    defective = 0
    for index in range(0, 120, 3):
        rendered = line.truth(index * line.frames_per_part)
        assert rendered.part_id == f"part-{index:06d}"
        assert truth.parts[rendered.part_id] == rendered.defect
        defective += rendered.defect is not None
    assert 0 < defective < 40  # about 15 % of the parts sampled
    # Written once: a second start keeps the file (the same seed renders the same parts).
    before = layout.ground_truth_file.stat().st_mtime_ns
    _ensure_ground_truth(layout, parts_known=5)
    assert layout.ground_truth_file.stat().st_mtime_ns == before


def test_the_demo_server_config_names_the_ground_truth(tmp_path: Path) -> None:
    layout = DemoLayout(tmp_path, 8443)
    layout.root.mkdir(exist_ok=True)
    _write_server_config(layout)
    config = ServerConfig.model_validate(yaml.safe_load(layout.server_config.read_text()))
    assert config.dashboard.ground_truth_file == layout.ground_truth_file


def test_a_failed_score_is_said_and_never_ends_the_demo(tmp_path: Path) -> None:
    said: list[str] = []
    _say_truth(DemoLayout(tmp_path / "nothing-here", 8443), 0.0, said.append)
    assert len(said) == 2 and said[0].startswith("ground truth: not scored this time (")
    assert said[1].startswith("walkway: not scored this time (")  # each printout fails on its own
