"""The demo's walkway station (``cam-walkway``, ``st-50-walkway``): PPE compliance as counts.

Generated workers with and without a helmet and a hi-vis vest, drawn by the PPE classifier's
own generator (:func:`lineguard.edge.ppe.render.walkway_scenes`), one frame every
:data:`WALKWAY_EVERY_S` seconds, fed like the other stations
(:class:`~lineguard.cli.demo_feeder.StationFeeder`).

- **Enabled for the demo only.** PPE counting ships off (its accuracy on real people is
  not measured, docs/inspection.md); the demo's edge.yaml enables it for this camera with a
  legal basis saying the people are generated, and the governance documents, built from that
  edge.yaml at every start, describe the counting from it.
- **Privacy wins.** The door on the right of the frame (:data:`WALKWAY_PRIVACY`) is a privacy
  zone, blacked out at capture; the PPE zone (:data:`WALKWAY_ZONE`, the walkway's floor)
  shares no pixel with it (a zone that did would be refused when edge.yaml loads).
- **Counts only, per zone and hour, in real time.** Nothing per person leaves the node. An
  hour's counts go out when the hour ends or the node stops, so the dashboard's /ppe page
  shows the walkway's hours once they are over, or after the demo stopped once: the hour is
  what the counts protect, so the demo does not compress it (unlike the motor's heating).
- **Enough people.** One frame every 6 s with one to three people is about 1,000 sightings a
  zone-hour, and about 50 in a five-minute run: far above the minimum count
  (:data:`WALKWAY_MIN_COUNT`). An item lacked fewer times than that in a short hour shows as
  suppressed, which is the suppression working.
- **Scored.** What each fed frame holds is known (:func:`_walkway_truth`, by the counter's
  rules on the drawn boxes) and kept per hour in ``stations/walkway/fed.json`` across runs (the
  server adds up an hour split by a restart); :func:`walkway_summary` sets it beside the
  server's counts.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from lineguard.cli.demo_stations import WALKWAY_CAMERA, StationLayout, write_image

__all__ = [
    "WALKWAY_EVERY_S",
    "WALKWAY_MIN_COUNT",
    "WALKWAY_PRIVACY",
    "WALKWAY_ZONE",
    "WalkwayFed",
    "ensure_walkway_pool",
    "ppe_cameras",
    "walkway_summary",
]

#: The walkway: a rendered 640 x 480 scene with a 160 px door beside it (a privacy zone).
WALKWAY_SCENE = (640, 480)
WALKWAY_SIZE = (WALKWAY_SCENE[0] + 160, WALKWAY_SCENE[1])
WALKWAY_POOL = 30
WALKWAY_EVERY_S = 6.0
#: The node looks at one frame every this many seconds (less than the feed period: each fed
#: frame is looked at unless the node is too busy to take it).
WALKWAY_SAMPLE_S = 5.0
WALKWAY_MIN_COUNT = 5
#: Feet of the scene's people stand at 88-97 % of its height: the floor's lower half is the zone.
WALKWAY_ZONE: dict[str, Any] = {
    "name": "walkway",
    "x": 0,
    "y": WALKWAY_SCENE[1] // 2,
    "width": WALKWAY_SCENE[0],
    "height": WALKWAY_SCENE[1] - WALKWAY_SCENE[1] // 2,
    "required": ["helmet", "hi_vis_vest"],
}
#: The door beside the walkway: blacked out at capture; it shares no pixel with the PPE zone.
WALKWAY_PRIVACY: dict[str, Any] = {
    "name": "break-room-door",
    "points": [
        [WALKWAY_SCENE[0], 0],
        [WALKWAY_SIZE[0], 0],
        list(WALKWAY_SIZE),
        [WALKWAY_SCENE[0], WALKWAY_SIZE[1]],
    ],
}
WALKWAY_LEGAL_BASIS = (
    "Demo only: the walkway's people are generated images, no person is filmed. In a plant: the "
    "legal basis of the plant's own assessment (e.g. GDPR Art. 6(1)(f) and the works agreement)."
)
#: People the node does not judge (edge.yaml ``min_person_height_px``, its default).
WALKWAY_MIN_PERSON_PX = 80


def _walkway_truth(people: Any) -> dict[str, Any]:
    """What the node should count in one scene: people whose feet stand in the zone, tall enough to
    be judged, not touching the door (by the rules of edge/ppe/counter.py, on the drawn boxes)."""
    zone, door_x = WALKWAY_ZONE, WALKWAY_SCENE[0]
    counted = [
        p
        for p in people
        if zone["x"] <= p.foot[0] < zone["x"] + zone["width"]
        and zone["y"] <= p.foot[1] < zone["y"] + zone["height"]
        and p.box[3] - p.box[1] >= WALKWAY_MIN_PERSON_PX
        and p.box[2] <= door_x
    ]
    return {
        "people": len(counted),
        "lacking": {
            "helmet": sum(not p.helmet for p in counted),
            "hi_vis_vest": sum(not p.vest for p in counted),
        },
    }


def _write_json(path: Path, value: Any) -> None:
    """Written under a temporary name and renamed: a reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value), encoding="utf-8")
    tmp.replace(path)


def ensure_walkway_pool(stations: StationLayout) -> None:
    """Rendered walkway frames (first run only) and what each holds (``truth.json``)."""
    import numpy as np

    from lineguard.edge.ppe.render import walkway_scenes

    pool = stations.walkway_pool
    if (pool / "truth.json").exists():
        return
    truth = []
    width, height = WALKWAY_SCENE
    for i, scene in enumerate(walkway_scenes(WALKWAY_POOL, seed=500, height=height, width=width)):
        door = np.full((height, WALKWAY_SIZE[0] - width, 3), (60, 90, 120), np.uint8)  # never seen
        write_image(pool / f"{i:02d}.png", np.concatenate([scene.image, door], axis=1))
        truth.append(_walkway_truth(scene.people))
    _write_json(pool / "truth.json", truth)  # last: its presence says the pool is complete


class WalkwayFed:
    """What was fed to the walkway per UTC hour: frames, people to count, and how many lacked each
    item (from ``truth.json``), kept in :attr:`StationLayout.walkway_fed` across runs."""

    def __init__(self, stations: StationLayout) -> None:
        self.path = stations.walkway_fed
        self.truth: list[dict[str, Any]] = json.loads(
            (stations.walkway_pool / "truth.json").read_text(encoding="utf-8")
        )
        self.hours = self.read(stations)

    @staticmethod
    def read(stations: StationLayout) -> dict[str, dict[str, Any]]:
        """Hour (ISO, UTC) → ``{"frames", "people", "lacking": {item: n}}``."""
        path = stations.walkway_fed
        found: dict[str, dict[str, Any]] = (
            json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        )
        return found

    def add(self, index: int, at: dt.datetime) -> None:
        """Frame ``index`` of the pool was fed at ``at``."""
        scene = self.truth[index % len(self.truth)]
        hour = at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0).isoformat()
        tally = self.hours.setdefault(hour, {"frames": 0, "people": 0, "lacking": {}})
        tally["frames"] += 1
        tally["people"] += scene["people"]
        for item, n in scene["lacking"].items():
            tally["lacking"][item] = tally["lacking"].get(item, 0) + n
        _write_json(self.path, self.hours)


def ppe_cameras(stations: StationLayout) -> list[dict[str, Any]]:
    """The walkway's ``ppe_cameras`` entry: PPE counting enabled for the demo only (see the module
    docstring; the product ships it off)."""
    return [
        {
            "camera_id": WALKWAY_CAMERA,
            "station_id": "st-50-walkway",
            "source": {
                "type": "folder",
                "path": str(stations.frames(WALKWAY_CAMERA)),
                "poll_interval_ms": 500,
            },
            "privacy_zones": [WALKWAY_PRIVACY],
            "ppe": {
                "enabled": True,
                "legal_basis": WALKWAY_LEGAL_BASIS,
                "zones": [WALKWAY_ZONE],
                "min_count": WALKWAY_MIN_COUNT,
                "sample_interval_s": WALKWAY_SAMPLE_S,
                "min_person_height_px": WALKWAY_MIN_PERSON_PX,
                # A demo is stopped before its hour is over and should show counts: it sends the
                # open hour at the stop, so a restart splits that hour (docs/inspection.md).
                "send_open_hour_at_stop": True,
            },
        }
    ]


def walkway_summary(stations: StationLayout, counted: list[Any]) -> str:
    """The walkway's counts on the server (``counted``: :class:`~lineguard.server.ppe.PpeReport`
    hours of the walkway camera) beside what it was fed, hour by hour, in words."""
    fed = WalkwayFed.read(stations)
    if not fed:
        return "nothing fed yet"
    by_hour = {
        h.hour_start.astimezone(dt.UTC).isoformat(): h for h in counted if h.zone == WALKWAY_ZONE["name"]
    }

    def n(value: int | None) -> str:
        return "suppressed" if value is None else str(value)

    said = []
    for hour in sorted(fed)[-3:]:  # the last three hours fed
        f, label = fed[hour], f"{dt.datetime.fromisoformat(hour):%H:00} UTC"
        got = by_hour.get(hour)
        if got is None:
            said.append(
                f"{label}: {f['people']} people fed in {f['frames']} frames, "
                "counts arrive when the hour ends or the demo stops"
            )
            continue
        items = ", ".join(
            f"no {item.replace('_', ' ')} {f['lacking'].get(item, 0)} fed / {n(got.lacking.get(item))}"
            for item in WALKWAY_ZONE["required"]
        )
        said.append(  # fed / counted
            f"{label}: {f['people']} people fed / {n(got.people_seen)} counted "
            f"({f['frames']} frames fed / {got.sampled_frames} looked at); {items}"
        )
    return "; ".join(said)
