"""``PersonRedactor``: find every person in an evidence frame and hide them.

Three cues, each run on the whole frame and on overlapping tiles, and their union
hidden — because for privacy a false alarm costs a blurred patch of wall, a miss costs
a worker's face in the archive:

1. the person **segmentation** mask (threshold low, every blob's box grown by 50%);
   a tile's inner edges fade in (:attr:`RedactorSettings.tile_edge_taper`), because the
   selfie model takes an object cut by its input's border for a person entering the
   picture — the demo's metal bracket cut by a tile edge was hidden as one;
2. the **body** detector's whole-body box (square around the hip centre), grown by 40%;
3. the **face** detector's box, grown towards hair, ears and neck.

What this never does: compute a face embedding or landmarks for output, compare two
frames, assign an id, or keep anything about a person beyond the hidden pixels and a
count. Every call is independent; the object holds only the model sessions.

Fail-safe: any failure to load or run a model raises :class:`RedactionError`; a
frame is never returned unredacted because a model did not run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lineguard.contracts.errors import ConfigError
from lineguard.contracts.types import Frame
from lineguard.edge.redact._apply import apply_hiding, check_frame, check_mode
from lineguard.edge.redact._detectors import Detection, PersonSegmenter, SsdDetector
from lineguard.edge.redact._errors import RedactionError
from lineguard.edge.redact._geometry import grow_box, merge_count, square_tiles
from lineguard.edge.redact._models import MODELS, load_session
from lineguard.edge.redact._types import Box, PersonRegion, Redacted, RedactionMode, RegionSource

__all__ = ["CUES", "PersonRedactor", "RedactorSettings"]

#: The person cues a redactor can combine.
CUES = frozenset({"segmentation", "body", "face"})


@dataclass(frozen=True, slots=True)
class RedactorSettings:
    """Knobs of the person search; the defaults were chosen on the recall benchmark."""

    #: Tile sides as fractions of the frame's short side, for the segmentation mask.
    segmentation_tiles: tuple[float, ...] = (1.0, 0.5)
    #: Tile sides for the face and body detectors (each tile costs a model run).
    detector_tiles: tuple[float, ...] = (1.0,)
    #: Pixels with person probability above this belong to a person (low: lean to hiding).
    segmentation_threshold: float = 0.3
    #: Blobs smaller than this share of the frame are sensor noise, not people.
    min_blob_fraction: float = 0.0002
    #: Each blob's bounding box grows by this share of its size on every side (0.5 since
    #: evidence crops: limbs reaching in stick out of a tighter box; 0.3 before).
    blob_growth: float = 0.5
    #: Long side of the fused segmentation map (boxes are found on it, then scaled up).
    work_long_side_px: int = 640
    #: A tile's probabilities fade in linearly over this share of its side from each edge
    #: that lies inside the frame (frame edges stay sharp). Tiles overlap by >= 25 %, so at
    #: 0.125 every pixel keeps full weight in at least one view; what is lost is the selfie
    #: model's habit of calling anything cut by its border a person (0 = off, as before).
    tile_edge_taper: float = 0.125
    #: Body boxes grow by this share of their size on every side (0.4 since the evidence-crop
    #: benchmark: a partly hidden person's visible sliver lies at the edge of a weak box; 0.1 before).
    body_growth: float = 0.4
    face_threshold: float = 0.4
    body_threshold: float = 0.3
    #: Fail closed: also hide what a cue finds *below* its threshold, down to these floors.
    fail_closed: bool = True
    uncertain_segmentation_threshold: float = 0.1
    uncertain_face_threshold: float = 0.2
    #: 0.05 (was 0.15): on person-free evidence crops no body box scores 0.05-0.15, on partly
    #: hidden people they do (docs/redaction.md, § Evidence crops).
    uncertain_body_threshold: float = 0.05
    #: onnxruntime intra-op threads (the edge node has two cores).
    threads: int = 2
    #: Which cues run; all three unless a benchmark switches one off to measure it.
    cues: frozenset[str] = field(default_factory=lambda: frozenset({"segmentation", "body", "face"}))

    def floor(self, cue: str) -> float:
        """The lowest score of ``cue`` that is hidden: the uncertain floor when failing closed."""
        return float(getattr(self, f"uncertain_{cue}_threshold" if self.fail_closed else f"{cue}_threshold"))

    def __post_init__(self) -> None:
        # A redactor configured to look for nobody would pass every frame through unredacted.
        problems = []
        if not self.cues or not self.cues <= CUES:
            problems.append(f"cues must be a non-empty subset of {sorted(CUES)}, got {sorted(self.cues)}")
        for name in ("segmentation_threshold", "face_threshold", "body_threshold"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                problems.append(f"{name} must be in (0, 1), got {value}")
            floor = getattr(self, f"uncertain_{name}")
            if not 0.0 < floor <= value:
                problems.append(f"uncertain_{name} must be in (0, {name}], got {floor}")
        if not all(0.05 <= f <= 1.0 for f in (*self.segmentation_tiles, *self.detector_tiles)):
            problems.append("tile fractions must be in [0.05, 1]")
        if self.threads < 1 or self.work_long_side_px < 64 or self.blob_growth < 0 or self.body_growth < 0:
            problems.append(
                "threads >= 1, work_long_side_px >= 64, blob_growth >= 0 and body_growth >= 0 are required"
            )
        if not 0.0 <= self.tile_edge_taper <= 0.125:
            # Wider, and a pixel in the middle of two tiles' overlap would be seen by neither at full weight.
            problems.append(f"tile_edge_taper must be in [0, 0.125], got {self.tile_edge_taper}")
        if problems:
            raise ConfigError("invalid redactor settings: " + "; ".join(problems), details=problems)


class PersonRedactor:
    """The production redactor: vendored MediaPipe models on onnxruntime (CPU)."""

    def __init__(self, settings: RedactorSettings | None = None, *, model_dir: Path | None = None) -> None:
        """Load and verify every model now: a broken install fails at start, not at the first evidence."""
        self.settings = settings or RedactorSettings()

        def load(name: str) -> Any:
            return load_session(MODELS[name], threads=self.settings.threads, model_dir=model_dir)

        self._segmenter = PersonSegmenter(load("segmentation"), load("segmentation_landscape"))
        s = self.settings
        self._body = SsdDetector(load("body"), "body", score_threshold=s.floor("body"))
        self._face = SsdDetector(load("face"), "face", score_threshold=s.floor("face"))
        self._model_id = "mediapipe-0.10.21:" + ",".join(
            f"{spec.name}@{spec.sha256[:12]}" for spec in MODELS.values()
        )

    @property
    def model_id(self) -> str:
        return self._model_id

    def redact(self, image: Frame, mode: RedactionMode) -> Redacted:
        frame = check_frame(image)
        check_mode(mode)  # before any model runs
        try:
            regions, hidden = self._find(frame)
            redacted = apply_hiding(frame, hidden, mode)
        except RedactionError:
            raise
        except Exception as exc:  # any runtime failure of a model means: not safe to store
            msg = f"person detection failed, frame must not be stored: {exc}"
            raise RedactionError(msg) from exc
        return Redacted(
            image=redacted,
            hidden=hidden,
            regions=tuple(regions),
            mode=mode,
            face_count=merge_count([r.box for r in regions if r.source == "face"]),
            person_count=merge_count([r.box for r in regions if r.source != "face"]),
        )

    def _find(self, frame: Frame) -> tuple[list[PersonRegion], np.ndarray]:
        import cv2

        s = self.settings
        height, width = frame.shape[:2]
        hw = (height, width)
        hidden = np.zeros(hw, dtype=np.bool_)
        regions: list[PersonRegion] = []

        def add(box: Box | None, score: float, source: RegionSource, *, confident: bool) -> None:
            if box is None:
                return
            hidden[box.y0 : box.y1, box.x0 : box.x1] = True
            regions.append(PersonRegion(box=box, score=score, source=source, confident=confident))

        if "segmentation" in s.cues:
            tiles = [t for f in s.segmentation_tiles for t in square_tiles(height, width, f)]
            # Box finding needs no more than ~640 px on the long side.
            work_scale = min(1.0, s.work_long_side_px / max(height, width))
            prob = self._segmenter.probability(frame, tiles, work_scale, taper=s.tile_edge_taper)
            person = (prob >= s.floor("segmentation")).astype(np.uint8)
            count, labels, stats, _ = cv2.connectedComponentsWithStats(person, connectivity=8)
            min_area = max(2, int(s.min_blob_fraction * person.size))
            for i in range(1, count):
                x, y, w, h, area = (int(v) for v in stats[i])
                if area < min_area:
                    continue
                blob = prob[labels == i]
                g = s.blob_growth
                x0, y0 = x / work_scale, y / work_scale
                x1, y1 = (x + w) / work_scale, (y + h) / work_scale
                add(
                    grow_box(x0, y0, x1, y1, frame_hw=hw, side=g, top=g, bottom=g),
                    float(blob.mean()),
                    "segmentation",
                    confident=bool(blob.max() >= s.segmentation_threshold),
                )
        if "body" in s.cues:
            tiles = [t for f in s.detector_tiles for t in square_tiles(height, width, f)]
            for d in self._body.detect(frame, tiles):
                g = s.body_growth
                add(self._grow(d, hw, g, g, g), d.score, "body", confident=d.score >= s.body_threshold)
        if "face" in s.cues:
            tiles = [t for f in s.detector_tiles for t in square_tiles(height, width, f)]
            for d in self._face.detect(frame, tiles):
                # Faces: hair and forehead above, ears to the sides, chin and neck below.
                add(self._grow(d, hw, 0.3, 0.6, 0.4), d.score, "face", confident=d.score >= s.face_threshold)
        return regions, hidden

    @staticmethod
    def _grow(d: Detection, hw: tuple[int, int], side: float, top: float, bottom: float) -> Box | None:
        return grow_box(d.x0, d.y0, d.x1, d.y1, frame_hw=hw, side=side, top=top, bottom=bottom)
