"""Privacy redaction: hide every person in an evidence frame before it is stored.

Runs on evidence frames only (fails, uncertain parts, sampled passes), never on the
per-frame inspection path. :class:`PersonRedactor` combines three models that ship
inside this package (no download at run time): a person segmentation mask, a
whole-body person detector and a face detector, dilates what they find and blurs or
blacks it out. A miss costs far more than a false alarm, so every threshold leans
towards hiding. Faces are detected, never identified: no embedding is computed, no id
links a region to another frame, nothing about a person is kept but the hidden pixels.

:class:`PersonDetector` asks the same body and mask models only where people are (PPE
counting, :mod:`lineguard.edge.ppe`): boxes and scores, no faces.

Fail-safe: if the models cannot load or run, :class:`RedactionError` is raised; the
evidence store then keeps nothing (or :func:`black_frame`), never the input.
"""

from __future__ import annotations

from lineguard.edge.redact._apply import apply_hiding, black_frame, check_frame
from lineguard.edge.redact._errors import RedactionError
from lineguard.edge.redact._fake import FakeRedactor
from lineguard.edge.redact._models import MODELS, ModelSpec
from lineguard.edge.redact._people import FoundPerson, PersonDetector
from lineguard.edge.redact._person import PersonRedactor, RedactorSettings
from lineguard.edge.redact._types import (
    Box,
    HiddenMask,
    PersonRegion,
    Redacted,
    RedactionMode,
    Redactor,
    RegionSource,
)

__all__ = [
    "MODELS",
    "Box",
    "FakeRedactor",
    "FoundPerson",
    "HiddenMask",
    "ModelSpec",
    "PersonDetector",
    "PersonRedactor",
    "PersonRegion",
    "Redacted",
    "RedactionError",
    "RedactionMode",
    "Redactor",
    "RedactorSettings",
    "RegionSource",
    "apply_hiding",
    "black_frame",
    "check_frame",
]
