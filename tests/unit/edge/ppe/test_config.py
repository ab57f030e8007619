"""edge.yaml ``ppe_cameras``: unknown items, privacy overlaps, missing legal basis — each a clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from lineguard.config import load_edge_config
from lineguard.config.edge import EdgeConfig
from lineguard.config.ppe import overlap_area
from lineguard.contracts.errors import ConfigError
from tests.unit.edge.support import camera, edge_config

BASIS = "GDPR Art. 6(1)(f): workplace safety; works agreement BV-2026-07"


def ppe_camera(
    camera_id: str = "cam-walk", source: dict[str, Any] | None = None, **ppe: Any
) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "enabled": True,
        "legal_basis": BASIS,
        "zones": [{"name": "aisle", "x": 0, "y": 100, "width": 640, "height": 380}],
        "min_count": 3,
        "sample_interval_s": 0.2,
    }
    privacy = ppe.pop("privacy_zones", [])
    settings.update(ppe)
    return {
        "camera_id": camera_id,
        "station_id": "walkway",
        "source": source or {"type": "synthetic", "width": 640, "height": 480, "fps": 5},
        "privacy_zones": privacy,
        "ppe": settings,
    }


def _config(tmp_path: Path, cam: dict[str, Any]) -> EdgeConfig:
    return edge_config(tmp_path / "data", [camera("cam-a", tmp_path / "model")], ppe_cameras=[cam])


def test_a_valid_ppe_camera_loads_and_is_off_unless_enabled(tmp_path: Path) -> None:
    config = _config(tmp_path, ppe_camera())
    assert config.ppe_cameras[0].ppe.zones[0].required == ["helmet", "hi_vis_vest"]
    off = ppe_camera(enabled=False, legal_basis="")
    del off["ppe"]["enabled"]
    assert _config(tmp_path, off).ppe_cameras[0].ppe.enabled is False


def test_an_unknown_item_names_itself_and_the_known_ones(tmp_path: Path) -> None:
    cam = ppe_camera(
        zones=[{"name": "aisle", "x": 0, "y": 0, "width": 10, "height": 10, "required": ["gloves"]}]
    )
    with pytest.raises(
        ValidationError, match=r"unknown PPE item\(s\) 'gloves': .* knows only helmet, hi_vis_vest"
    ):
        _config(tmp_path, cam)


def test_a_zone_overlapping_a_privacy_zone_is_refused_naming_both(tmp_path: Path) -> None:
    cam = ppe_camera(
        privacy_zones=[{"name": "office-door", "points": [[600, 0], [700, 0], [700, 200], [600, 200]]}]
    )
    with pytest.raises(
        ValidationError, match=r"PPE zone 'aisle' overlaps privacy zone 'office-door' by 4000 px²"
    ):
        _config(tmp_path, cam)


def test_a_privacy_zone_that_only_touches_the_zone_edge_is_allowed(tmp_path: Path) -> None:
    cam = ppe_camera(privacy_zones=[{"name": "door", "points": [[640, 0], [700, 0], [700, 200], [640, 200]]}])
    assert _config(tmp_path, cam).ppe_cameras[0].privacy_zones[0].name == "door"


def test_enabling_needs_a_legal_basis(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="needs a legal_basis"):
        _config(tmp_path, ppe_camera(legal_basis="safety"))


@pytest.mark.parametrize(
    ("ppe", "message"),
    [
        ({"min_count": 2}, "greater than or equal to 3"),
        ({"zones": []}, "at least 1 item"),
        (
            {"zones": [{"name": "a", "x": 0, "y": 0, "width": 5, "height": 5}] * 2},
            "zone names must be unique per camera, repeated: a",
        ),
        ({"zones": [{"name": "a", "x": 0, "y": 0, "width": 0, "height": 5}]}, "greater than 0"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, ppe: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _config(tmp_path, ppe_camera(**ppe))


def test_camera_ids_are_unique_across_kinds(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="camera_id must be unique, repeated: cam-a"):
        _config(tmp_path, ppe_camera("cam-a"))


def test_the_loader_turns_it_into_a_config_error(tmp_path: Path) -> None:
    import yaml

    doc = _config(tmp_path, ppe_camera()).model_dump(mode="json")
    doc["ppe_cameras"][0]["ppe"]["zones"][0]["required"] = ["boots"]
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_edge_config(path)
    assert caught.value.details == [
        "ppe_cameras[0].ppe.zones[0].required: unknown PPE item(s) 'boots': "
        "the node's classifier knows only helmet, hi_vis_vest"
    ]


@pytest.mark.parametrize(
    ("rect", "points", "area"),
    [
        ((0, 0, 10, 10), [(5, 5), (15, 5), (15, 15), (5, 15)], 25.0),
        ((0, 0, 10, 10), [(10, 0), (20, 0), (20, 10), (10, 10)], 0.0),
        ((0, 0, 10, 10), [(-5, -5), (20, -5), (20, 20), (-5, 20)], 100.0),
        ((0, 0, 10, 10), [(0, 0), (10, 0), (0, 10)], 50.0),
        # a concave L whose notch holds the rectangle: no shared pixel
        ((4, 4, 8, 8), [(0, 0), (10, 0), (10, 2), (2, 2), (2, 10), (0, 10)], 0.0),
        ((0, 0, 10, 10), [(30, 30), (40, 30), (40, 40)], 0.0),
    ],
)
def test_overlap_area(rect: tuple[int, int, int, int], points: list[tuple[int, int]], area: float) -> None:
    assert overlap_area(rect, points) == pytest.approx(area)
