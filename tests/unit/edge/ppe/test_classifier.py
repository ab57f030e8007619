"""The shipped PPE classifier: its file is pinned, training is deterministic, and on held-out generated
workers it is right well above chance (the full measurement, with hard cases, is bench/bench_ppe.py)."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from lineguard.contracts.errors import ModelError
from lineguard.contracts.ppe import PPE_ITEMS
from lineguard.edge.ppe import MODEL_SHA256, PpeClassifier
from lineguard.edge.ppe.render import person_crops
from lineguard.edge.ppe.train import TRAIN_COUNT, TRAIN_SEED, crop_matrix, train_model

SHIPPED = resources.files("lineguard.edge.ppe") / "model" / "ppe-classifier.json"


def test_the_shipped_model_is_the_pinned_one_and_says_how_it_was_made() -> None:
    data = SHIPPED.read_bytes()
    assert hashlib.sha256(data).hexdigest() == MODEL_SHA256
    doc = json.loads(data)
    assert doc["trained_on"] == {
        "generator": "lineguard.edge.ppe.render.person_crops",
        "count": TRAIN_COUNT,
        "seed": TRAIN_SEED,
        "box_jitter": 0.05,
    }
    classifier = PpeClassifier.load()
    assert classifier.items == PPE_ITEMS and classifier.model_id == f"ppe-logreg-v1:{MODEL_SHA256[:12]}"


def test_a_changed_or_missing_model_file_is_refused(tmp_path: Path) -> None:
    doc = json.loads(SHIPPED.read_bytes())
    doc["weights"]["helmet"][0] += 1.0
    changed = tmp_path / "ppe.json"
    changed.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ModelError, match=f"has sha256 .*, expected {MODEL_SHA256}"):
        PpeClassifier.load(changed)
    with pytest.raises(ModelError, match="cannot be read"):
        PpeClassifier.load(tmp_path / "missing.json")
    # A file that matches its (given) digest but is not a model of this version:
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"format": "onnx"}), encoding="utf-8")
    digest = hashlib.sha256(wrong.read_bytes()).hexdigest()
    with pytest.raises(ModelError, match=r"is \('onnx', None\)"):
        PpeClassifier.load(wrong, expected_sha256=digest)


def test_training_is_deterministic() -> None:
    first, second = train_model(count=96, seed=5), train_model(count=96, seed=5)
    assert first == second


def test_on_held_out_workers_it_is_right_well_above_chance() -> None:
    """A regression guard, not the measurement: 200 new workers (seed never trained on), a third
    of them look-alikes, occluded or badly lit. bench/bench_ppe.py gives the figures."""
    classifier = PpeClassifier.load()
    crops = person_crops(200, seed=424242)
    probs = classifier.probabilities_of(crop_matrix(crops))
    for item, truth in (("helmet", [c.helmet for c in crops]), ("hi_vis_vest", [c.vest for c in crops])):
        said = np.array([p[item] >= classifier.threshold for p in probs])
        accuracy = float((said == np.array(truth)).mean())
        assert accuracy >= 0.75, (item, accuracy)
