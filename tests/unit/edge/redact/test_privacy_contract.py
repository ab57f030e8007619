"""What redaction may keep about a person, pinned: a box, a score, the kind of cue. Nothing else.

If someone adds a field that could carry identity (an embedding, landmarks, a crop, a
track id), these tests fail and the privacy documentation must be revisited first.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np

import lineguard.edge.redact as redact
from lineguard.edge.redact import Box, PersonRedactor, PersonRegion, Redacted
from tests.unit.edge.redact.conftest import LabelledPhoto

SRC = Path(redact.__file__).parent


def test_public_api_is_pinned() -> None:
    assert sorted(redact.__all__) == sorted(
        [
            "Box",
            "FakeRedactor",
            "FoundPerson",
            "HiddenMask",
            "MODELS",
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
    )


def test_results_hold_no_identity_fields() -> None:
    assert [f.name for f in dataclasses.fields(redact.FoundPerson)] == ["box", "score"]
    assert [f.name for f in dataclasses.fields(PersonRegion)] == ["box", "score", "source", "confident"]
    assert [f.name for f in dataclasses.fields(Box)] == ["x0", "y0", "x1", "y1"]
    assert [f.name for f in dataclasses.fields(Redacted)] == [
        "image",
        "hidden",
        "regions",
        "mode",
        "face_count",
        "person_count",
    ]


def test_no_code_in_the_package_computes_or_stores_identity() -> None:
    forbidden = {"embedding", "embed", "descriptor", "track_id", "identity", "recognize", "recognise"}
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        names |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        assert not {n.lower() for n in names} & forbidden, path.name


def test_redactions_are_independent_per_frame(redactor: PersonRedactor, photos: list[LabelledPhoto]) -> None:
    """No memory across calls: the same frame gives the same result before and after others."""
    first = redactor.redact(photos[0].image, "black")
    redactor.redact(photos[1].image, "black")
    again = redactor.redact(photos[0].image, "black")
    assert np.array_equal(first.hidden, again.hidden)
    assert first.regions == again.regions
    state = {k for k in vars(redactor) if not k.startswith("__")}
    assert state == {"settings", "_segmenter", "_body", "_face", "_model_id"}
