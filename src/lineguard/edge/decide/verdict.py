"""Score → verdict, and the anomaly map → defect regions in full-frame pixels.

``uncertain`` is a band just below the threshold (``uncertain_margin`` of the
threshold's magnitude): those parts pass the hard rule but are close enough that a
person should look, so their evidence is kept like a fail's.
"""

from __future__ import annotations

import numpy as np

from lineguard.contracts.events import BoundingBox, DefectRegion, Verdict
from lineguard.contracts.types import Scores
from lineguard.vision.classes import ANOMALY_CLASS
from lineguard.vision.regions import regions_from_map

__all__ = ["classify", "defect_regions"]


def classify(score: float, threshold: float, uncertain_margin: float) -> Verdict:
    if score >= threshold:
        return Verdict.FAIL
    if score >= threshold - uncertain_margin * abs(threshold):
        return Verdict.UNCERTAIN
    return Verdict.PASS


def defect_regions(scores: Scores, roi: BoundingBox) -> list[DefectRegion]:
    """Where the map stands out (``vision.regions``), mapped from the ROI crop to the full frame.

    Each region is named by the package's defect classes when the runner set
    ``scores.region_classifier`` (a known type or "unknown_anomaly"), else "anomaly".
    A part judged not good whose map has no spot rising above what a good part's map
    reaches (``scores.region_threshold``) is unusual as a whole (finish, colour, layout):
    it gets one region covering the ROI, scored with the image score, which is the
    honest answer rather than a box around noise.
    """
    regions = regions_from_map(
        scores.anomaly_map,
        pixel_threshold=scores.region_threshold,
        out_width=roi.width,
        out_height=roi.height,
        offset_x=roi.x,
        offset_y=roi.y,
        classify=scores.region_classifier,
    )
    if regions:
        return regions
    whole = np.ones(np.shape(scores.anomaly_map)[-2:], bool)
    name = ANOMALY_CLASS if scores.region_classifier is None else scores.region_classifier(whole)
    return [DefectRegion(defect_class=name, score=scores.anomaly_score, bbox=roi)]
