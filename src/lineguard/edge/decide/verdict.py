"""Score → verdict, and the anomaly map → defect regions in full-frame pixels.

``uncertain`` is a band just below the threshold (``uncertain_margin`` of the
threshold's magnitude): those parts pass the hard rule but are close enough that a
person should look, so their evidence is kept like a fail's.
"""

from __future__ import annotations

from lineguard.contracts.events import BoundingBox, DefectRegion, Verdict
from lineguard.contracts.types import Scores
from lineguard.vision.regions import regions_from_map

__all__ = ["classify", "defect_regions"]


def classify(score: float, threshold: float, uncertain_margin: float) -> Verdict:
    if score >= threshold:
        return Verdict.FAIL
    if score >= threshold - uncertain_margin * abs(threshold):
        return Verdict.UNCERTAIN
    return Verdict.PASS


def defect_regions(scores: Scores, threshold: float, roi: BoundingBox) -> list[DefectRegion]:
    """Regions of the map above ``threshold``, mapped from the ROI crop to the full frame.

    Each region is named by the package's defect classes when the runner set
    ``scores.region_classifier`` (a known type or "unknown_anomaly"), else "anomaly".
    """
    return regions_from_map(
        scores.anomaly_map,
        threshold=threshold,
        out_width=roi.width,
        out_height=roi.height,
        offset_x=roi.x,
        offset_y=roi.y,
        classify=scores.region_classifier,
    )
