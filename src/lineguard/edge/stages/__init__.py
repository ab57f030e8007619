"""Stages: the checks a camera runs on each part besides its anomaly model.

``edge.yaml`` lists them per camera (``cameras[].stages``, :mod:`lineguard.config.stages`);
:func:`build_stages` turns each entry into an
:class:`~lineguard.contracts.types.InspectionStage` (refusing, with a typed error, one
that cannot run: a missing or stale calibration, an unreadable spec) and
:class:`StageRunner` runs them on a part's decisive frame when the part closes. Each run
becomes a :class:`~lineguard.contracts.stages.StageResult` in the outbox, and the part's
verdict is the worst of the model's and every stage's.
"""

from __future__ import annotations

from lineguard.edge.stages.build import STAGE_BUILDERS, build_stages
from lineguard.edge.stages.fake import ScriptedStage, ScriptedViewsStage
from lineguard.edge.stages.run import PartContext, StageRunner

__all__ = [
    "STAGE_BUILDERS",
    "PartContext",
    "ScriptedStage",
    "ScriptedViewsStage",
    "StageRunner",
    "build_stages",
]
