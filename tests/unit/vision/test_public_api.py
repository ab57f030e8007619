"""The names other components build on are pinned: changing them breaks the edge node or the registry."""

from __future__ import annotations

import importlib

import pytest

PINNED = {
    "lineguard.vision.package": {
        "ModelMetadata",
        "ModelPackage",
        "load_package",
        "save_package",
        "sha256_hex",
        "MODEL_FILE",
        "METADATA_FILE",
        "PACKAGE_FILES",
        "FORMAT_VERSION",
    },
    "lineguard.vision.runtime": {"OnnxModelRunner", "select_providers", "available_providers"},
    "lineguard.vision.regions": {"regions_from_map"},
    "lineguard.vision.testing": {"build_tiny_package", "build_tiny_onnx"},
    "lineguard.vision.preprocess": {"prepare_input", "read_image", "to_bgr"},
    "lineguard.vision.train": {"TrainConfig", "TrainResult", "train_package", "fit_detector"},
    "lineguard.vision.evaluate": {"EvalReport", "evaluate_package"},
    "lineguard.vision.calibration": {"calibrate_threshold"},
    "lineguard.vision.ort": {
        "import_onnxruntime",
        "import_onnxruntime_quantization",
        "require_telemetry_off",
        "session_options",
    },
    "lineguard.no_telemetry": {"ORT_TELEMETRY_SWITCH", "ORT_TELEMETRY_OFF", "ONNXRUNTIME_LOADED_TOO_EARLY"},
}


@pytest.mark.parametrize("module", sorted(PINNED))
def test_public_names_are_exported(module: str) -> None:
    exported = set(importlib.import_module(module).__all__)
    assert PINNED[module] <= exported, PINNED[module] - exported
