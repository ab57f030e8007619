"""OnnxModelRunner: the ModelRunner contract, any frame size, gray and colour, providers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lineguard.contracts.errors import ConfigError, InputError
from lineguard.contracts.types import ModelRunner
from lineguard.vision.ort import import_onnxruntime, session_options
from lineguard.vision.package import sha256_hex
from lineguard.vision.runtime import OnnxModelRunner, select_providers
from lineguard.vision.testing import build_tiny_package


@pytest.fixture
def runner(tmp_path: Path) -> OnnxModelRunner:
    build_tiny_package(tmp_path / "pkg", threshold=0.2, model_id="tiny-1")
    return OnnxModelRunner(tmp_path / "pkg", threads=1)


def test_runner_conforms_to_the_model_runner_protocol(runner: OnnxModelRunner, tmp_path: Path) -> None:
    assert isinstance(runner, ModelRunner)
    assert runner.model_id == "tiny-1"
    assert runner.threshold == 0.2
    assert runner.digest == sha256_hex((tmp_path / "pkg" / "model.onnx").read_bytes())


@pytest.mark.parametrize(
    "shape", [(64, 64, 3), (480, 640, 3), (17, 900, 3), (64, 64), (64, 64, 1), (50, 70, 4)]
)
def test_any_size_and_channel_layout(runner: OnnxModelRunner, shape: tuple[int, ...]) -> None:
    frame = np.full(shape, 128, dtype=np.uint8)
    scores = runner.infer(frame)
    assert scores.anomaly_map.shape == (64, 64)
    assert scores.anomaly_map.dtype == np.float32
    assert scores.anomaly_score < 0.01


def test_gray_and_colour_give_the_same_scores(runner: OnnxModelRunner) -> None:
    gray = np.random.default_rng(0).integers(0, 256, (120, 90), dtype=np.uint8)
    colour = np.repeat(gray[:, :, None], 3, axis=2)
    assert runner.infer(gray).anomaly_score == pytest.approx(runner.infer(colour).anomaly_score)


def test_a_bright_blob_scores_high(runner: OnnxModelRunner) -> None:
    frame = np.full((64, 64, 3), 128, dtype=np.uint8)
    frame[10:20, 10:20] = 255
    scores = runner.infer(frame)
    assert scores.anomaly_score > runner.threshold
    y, x = np.unravel_index(np.argmax(scores.anomaly_map), scores.anomaly_map.shape)
    assert 10 <= y < 20 and 10 <= x < 20


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (np.zeros((64, 64, 5), np.uint8), "1 to 4 channels"),
        (np.zeros((64, 64, 3), np.float32), "uint8"),
        (np.zeros((4, 64, 3), np.uint8), "at least 8x8"),
        (np.zeros((2, 3, 4, 5), np.uint8), "HxW or HxWxC"),
    ],
)
def test_bad_frames_are_refused_clearly(runner: OnnxModelRunner, frame: np.ndarray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        runner.infer(frame)


def test_providers_default_to_an_explicit_list_ending_in_cpu() -> None:
    providers = select_providers(None)
    assert providers[-1] == "CPUExecutionProvider"
    assert "AzureExecutionProvider" not in providers
    assert select_providers(["cpu"]) == ["CPUExecutionProvider"]


def test_unknown_provider_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not available"):
        select_providers(["NoSuchExecutionProvider"])


def test_runtime_modules_do_not_import_torch() -> None:
    code = (
        "import sys, lineguard.vision.runtime, lineguard.vision.package, lineguard.vision.regions, "
        "lineguard.vision.testing, lineguard.vision.preprocess, lineguard.vision.dataset\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_session_settings_reach_the_session_and_leave_the_scores_alone(
    runner: OnnxModelRunner, tmp_path: Path
) -> None:
    settings = {"session.intra_op.allow_spinning": "0", "session.dynamic_block_base": "4"}
    tuned = OnnxModelRunner(tmp_path / "pkg", threads=2, session_config=settings)
    applied = tuned._session.get_session_options()  # onnxruntime's record of what it was given
    assert {k: applied.get_session_config_entry(k) for k in settings} == settings
    frame = np.random.default_rng(6).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    a, b = runner.infer(frame), tuned.infer(frame)
    assert a.anomaly_score == b.anomaly_score
    assert np.array_equal(a.anomaly_map, b.anomaly_map)


def test_runner_skips_the_memory_pattern_without_changing_a_score(
    runner: OnnxModelRunner, tmp_path: Path
) -> None:
    assert runner._session.get_session_options().enable_mem_pattern is False
    ort = import_onnxruntime()
    options = session_options(intra_op_threads=2)
    options.enable_mem_pattern = True
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    with_pattern = ort.InferenceSession(
        str(tmp_path / "pkg" / "model.onnx"), options, providers=["CPUExecutionProvider"]
    )
    frame = np.random.default_rng(7).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    tensor = runner.prepare(frame)
    scores, maps = runner.run_tensor(tensor)
    ref_scores, ref_maps = with_pattern.run(None, {"image": tensor})[:2]
    assert np.array_equal(scores, np.asarray(ref_scores).reshape(-1))
    assert np.array_equal(maps, np.asarray(ref_maps).reshape(maps.shape))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"session.intra_op.allow_spinnig": "0"}, "unknown onnxruntime session setting"),
        ({"session.intra_op.allow_spinning": "off"}, "must be a non-negative integer, got 'off'"),
        ({"session.dynamic_block_base": "-4"}, "must be a non-negative integer"),
    ],
)
def test_a_misspelt_or_malformed_session_setting_is_refused(
    tmp_path: Path, settings: dict[str, str], message: str
) -> None:
    """onnxruntime itself would ignore the first two without a word."""
    build_tiny_package(tmp_path / "pkg", threshold=0.2, model_id="tiny-1")
    with pytest.raises(ConfigError, match=message):
        OnnxModelRunner(tmp_path / "pkg", session_config=settings)
