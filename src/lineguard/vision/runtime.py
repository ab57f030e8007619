"""Run a model package with ONNX Runtime: what the edge node executes for every frame.

Needs only numpy, OpenCV and onnxruntime (never torch). Execution providers are chosen
by :func:`select_providers`: the accelerators onnxruntime reports (TensorRT, CUDA,
OpenVINO) first when present, CPU always last as the fallback, and the list is always
passed explicitly (onnxruntime's default order is not something to rely on).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lineguard.contracts.errors import ConfigError, ModelError
from lineguard.contracts.types import Scores
from lineguard.vision.classes import DefectClassifier, region_vector
from lineguard.vision.ort import import_onnxruntime, session_options
from lineguard.vision.package import ModelMetadata, load_package
from lineguard.vision.preprocess import prepare_input

__all__ = ["PROVIDER_ALIASES", "OnnxModelRunner", "available_providers", "select_providers"]

CPU = "CPUExecutionProvider"
#: Accelerators picked automatically, best first, when onnxruntime has them.
AUTO_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "OpenVINOExecutionProvider")
#: Short names accepted in config and on the command line.
PROVIDER_ALIASES = {
    "cpu": CPU,
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}


def available_providers() -> list[str]:
    return list(import_onnxruntime().get_available_providers())


def select_providers(preference: Sequence[str] | None = None) -> list[str]:
    """The explicit provider list to create a session with.

    ``None`` (or empty) means automatic: every accelerator in :data:`AUTO_ORDER` that this
    onnxruntime build offers, then CPU. Otherwise the named providers (full names or the
    aliases in :data:`PROVIDER_ALIASES`) in the given order, each of which must be
    available, with CPU appended as the fallback when not named.
    """
    available = available_providers()
    if not preference:
        return [p for p in AUTO_ORDER if p in available] + [CPU]
    chosen: list[str] = []
    for name in preference:
        full = PROVIDER_ALIASES.get(name.lower(), name)
        if full not in available:
            msg = f"execution provider {name!r} is not available in this onnxruntime build"
            raise ConfigError(
                msg,
                details=[f"available: {', '.join(available)}"],
            )
        if full not in chosen:
            chosen.append(full)
    if CPU not in chosen:
        chosen.append(CPU)
    return chosen


class OnnxModelRunner:
    """A :class:`~lineguard.contracts.types.ModelRunner` over one package directory."""

    def __init__(
        self,
        package_dir: Path | str,
        *,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        session_config: Mapping[str, str] | None = None,
    ) -> None:
        """``session_config``: onnxruntime session entries (``ort.SESSION_CONFIG_KEYS``), e.g.
        ``{"session.intra_op.allow_spinning": "0"}``; none by default (onnxruntime's own)."""
        ort = import_onnxruntime()
        package = load_package(package_dir)
        self._metadata = package.metadata
        self._digest = package.digest
        if threads is not None and threads < 1:
            msg = f"threads must be >= 1, got {threads}"
            raise ConfigError(msg)
        options = session_options(intra_op_threads=threads, config=session_config)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No memory pattern: the same outputs (allocation only), and less CPU per frame.
        # Interleaved against the pattern on the shipped graph (#24 seventh session,
        # docs/detection.md): 0.90x, 0.92x, 0.84x CPU per inference, p99 0.66x, 0.80x, 0.89x
        # at load 22, 22 and 4 -- the pattern's one big block per run costs more than the
        # arena's reused chunks.
        options.enable_mem_pattern = False
        self._providers = select_providers(providers)
        try:
            self._session = ort.InferenceSession(
                package.model_bytes, sess_options=options, providers=self._providers
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            msg = f"{package.path}: onnxruntime cannot load model.onnx: {exc}"
            raise ModelError(msg) from exc
        self._check_signature()
        classes = self._metadata.defect_classes
        self._classes = None if classes is None else DefectClassifier(classes)

    def _check_signature(self) -> None:
        spec = self._metadata
        inputs = {i.name: i for i in self._session.get_inputs()}
        outputs = {o.name for o in self._session.get_outputs()}
        if spec.input.name not in inputs:
            msg = f"graph has no input named {spec.input.name!r} (has {', '.join(inputs)})"
            raise ModelError(msg)
        wanted = {spec.outputs.score, spec.outputs.anomaly_map}
        if spec.defect_classes is not None:
            if not spec.outputs.region_features:
                msg = "metadata.json carries defect classes but names no region_features output"
                raise ModelError(msg)
            wanted.add(spec.outputs.region_features)
        if not wanted <= outputs:
            msg = f"graph outputs {sorted(outputs)} lack {sorted(wanted - outputs)} named in metadata.json"
            raise ModelError(msg)

    @property
    def model_id(self) -> str:
        return self._metadata.model_id

    @property
    def digest(self) -> str:
        return self._digest

    @property
    def threshold(self) -> float:
        return self._metadata.threshold.value

    @property
    def metadata(self) -> ModelMetadata:
        return self._metadata

    @property
    def providers(self) -> list[str]:
        """Providers the session actually runs on, in priority order."""
        return list(self._session.get_providers())

    def prepare(self, image: npt.NDArray[Any], *, source: str = "image") -> npt.NDArray[np.float32]:
        spec = self._metadata.input
        return prepare_input(
            image, width=spec.width, height=spec.height, colour_order=spec.colour_order, source=source
        )

    def run_tensor(
        self, tensor: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Run prepared input (Nx3xHxW) → (scores [N], maps [N, H, W])."""
        scores, maps, _ = self._run(tensor, with_features=False)
        return scores, maps

    def _run(
        self, tensor: npt.NDArray[np.float32], *, with_features: bool
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        spec = self._metadata.outputs
        names = [spec.score, spec.anomaly_map]
        if with_features and spec.region_features:
            names.append(spec.region_features)
        try:
            out = self._session.run(names, {self._metadata.input.name: tensor})
        except Exception as exc:
            msg = f"model {self.model_id} failed to run: {exc}"
            raise ModelError(msg) from exc
        scores = np.asarray(out[0], dtype=np.float32).reshape(-1)
        maps = np.asarray(out[1], dtype=np.float32)
        maps = maps.reshape(maps.shape[0], maps.shape[-2], maps.shape[-1])
        feats = np.asarray(out[2], dtype=np.float32) if len(out) > 2 else np.zeros((0,), np.float32)
        return scores, maps, feats

    @property
    def defect_classes(self) -> DefectClassifier | None:
        """The package's named defect classes, or None (every region is "anomaly")."""
        return self._classes

    def run_scores(self, tensor: npt.NDArray[np.float32]) -> list[Scores]:
        """Run prepared input (Nx3xHxW) → one :class:`Scores` per image, with the package's
        region level, and its region classifier when the package carries defect classes."""
        level = self._metadata.regions.pixel_threshold
        if self._classes is None:
            scores, maps = self.run_tensor(tensor)
            return [
                Scores(anomaly_score=float(s), anomaly_map=np.ascontiguousarray(m), region_threshold=level)
                for s, m in zip(scores, maps, strict=True)
            ]
        scores, maps, feats = self._run(tensor, with_features=True)
        classes = self._classes
        return [
            Scores(
                anomaly_score=float(scores[i]),
                anomaly_map=np.ascontiguousarray(maps[i]),
                region_classifier=partial(_classify_region, classes, feats[i]),
                region_threshold=level,
            )
            for i in range(scores.shape[0])
        ]

    def infer(self, image: npt.NDArray[Any]) -> Scores:
        """Score one frame: BGR (or gray / BGRA) uint8 of any size."""
        return self.run_scores(self.prepare(image))[0]


def _classify_region(
    classes: DefectClassifier, features: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_]
) -> str:
    return classes.assign(region_vector(features, mask)[None])[0]
