"""Measuring redaction: labelled synthetic scenes and the recall / coverage metrics.

Used by ``bench/bench_redaction.py``, ``bench/bench_redaction_crops.py`` (stored evidence
crops: hands, arms, leaning workers, people cut by the crop's edge) and the tests; also
runnable by a plant that wants to re-check recall on its own labelled frames (masks in,
:class:`RecallReport` out).
"""

from __future__ import annotations

from lineguard.edge.redact.evaluation._crops import (
    CROP_KINDS,
    CropKind,
    CropPerson,
    EvidenceCropScene,
    evidence_crops,
)
from lineguard.edge.redact.evaluation._metrics import (
    MIN_HEAD_HIDDEN,
    MIN_HIDDEN,
    FalseRedaction,
    RecallReport,
    false_redaction,
    score_people,
)
from lineguard.edge.redact.evaluation._scenes import (
    PersonTruth,
    Scene,
    industrial_background,
    render_person,
    synthetic_scenes,
)

__all__ = [
    "CROP_KINDS",
    "MIN_HEAD_HIDDEN",
    "MIN_HIDDEN",
    "CropKind",
    "CropPerson",
    "EvidenceCropScene",
    "FalseRedaction",
    "PersonTruth",
    "RecallReport",
    "Scene",
    "evidence_crops",
    "false_redaction",
    "industrial_background",
    "render_person",
    "score_people",
    "synthetic_scenes",
]
