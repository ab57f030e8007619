"""The model package: a folder holding exactly ``model.onnx`` and ``metadata.json``.

The ONNX graph maps one preprocessed image (see :mod:`lineguard.vision.preprocess`) to
an image-level anomaly score and a pixel anomaly map; ``metadata.json`` says how to
feed it and how to read its outputs (:class:`ModelMetadata`). Nothing else may live in
the folder: signatures are stored beside it, and model signing fails on extra files.

``metadata.model_sha256`` pins the graph, so a metadata file copied next to another
model is refused on load instead of silently applying the wrong threshold.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from lineguard import __version__
from lineguard.contracts.errors import InputError, ModelError
from lineguard.vision.classes import DefectClassesSpec

__all__ = [
    "FORMAT_VERSION",
    "METADATA_FILE",
    "MODEL_FILE",
    "PACKAGE_FILES",
    "EvaluationSummary",
    "InputSpec",
    "ModelMetadata",
    "ModelPackage",
    "OutputSpec",
    "RegionSpec",
    "ScoreNormalisation",
    "ThresholdSpec",
    "TrainingDataSpec",
    "load_package",
    "save_package",
    "sha256_hex",
]

FORMAT_VERSION = 1
MODEL_FILE = "model.onnx"
METADATA_FILE = "metadata.json"
PACKAGE_FILES = frozenset({MODEL_FILE, METADATA_FILE})
#: Largest graph accepted (a big backbone is ~100 MB; anything far beyond is not ours).
MAX_MODEL_BYTES = 1 << 30
MAX_METADATA_BYTES = 1 << 20


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        msg = "must be timezone-aware (UTC)"
        raise ValueError(msg)
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
ModelId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Strict):
    """How to turn a frame into the graph's input (done by ``preprocess.prepare_input``)."""

    name: str = Field(default="image", description="Name of the graph input.")
    width: int = Field(ge=8, le=4096, description="Input width in pixels (frames are stretched to it).")
    height: int = Field(ge=8, le=4096, description="Input height in pixels.")
    layout: Literal["NCHW"] = "NCHW"
    dtype: Literal["float32"] = "float32"
    colour_order: Literal["RGB", "BGR"] = Field(default="RGB", description="Channel order of the input.")
    resize: Literal["stretch"] = Field(default="stretch", description="Aspect ratio is not kept.")
    pixel_scale: float = Field(default=1 / 255, description="uint8 pixels are multiplied by this.")
    mean: tuple[float, float, float] = Field(description="Per-channel mean subtracted inside the graph.")
    std: tuple[float, float, float] = Field(description="Per-channel std divided inside the graph.")
    normalisation_in_graph: Literal[True] = Field(
        default=True, description="mean / std are applied by the graph, not by the caller."
    )


class OutputSpec(_Strict):
    score: str = Field(default="anomaly_score", description="Output of shape [N]: image-level score.")
    anomaly_map: str = Field(
        default="anomaly_map", description="Output of shape [N, H, W] at the input resolution."
    )
    region_features: str | None = Field(
        default=None,
        description="Output [N, C, h, w] of per-cell feature deviations (packages with defect classes).",
    )


class ScoreNormalisation(_Strict):
    """``score = (raw - loc) / scale``, applied inside the graph to the score and the map alike."""

    kind: Literal["affine"] = "affine"
    loc: float = 0.0
    scale: float = Field(default=1.0, gt=0)
    description: str = Field(
        default="identity",
        max_length=500,
        description="What loc and scale were taken from (e.g. held-out good images).",
    )


class ThresholdSpec(_Strict):
    """The calibrated image-score threshold and how it was found."""

    value: float = Field(description="Parts scoring above this fail.")
    method: Literal["good_quantile", "labelled_f1", "labelled_recall", "manual"]
    target_frr: float | None = Field(default=None, ge=0, le=1, description="Target false-reject rate.")
    validation_good_count: int = Field(default=0, ge=0)
    validation_defect_count: int = Field(default=0, ge=0)
    validation_frr: float | None = Field(default=None, ge=0, le=1, description="FRR on validation goods.")
    validation_recall: float | None = Field(
        default=None, ge=0, le=1, description="Recall on validation defects."
    )
    goal: str = Field(
        default="",
        max_length=200,
        description="The operating point as the quality engineer set it ('at most 1.0 % false rejects').",
    )
    validation_frr_ci: tuple[float, float] | None = Field(
        default=None, description="95 % Wilson interval of the validation false-reject rate."
    )
    validation_recall_ci: tuple[float, float] | None = Field(
        default=None, description="95 % Wilson interval of the validation recall."
    )
    note: str = Field(default="", max_length=1000)


class RegionSpec(_Strict):
    """How the edge cuts defect regions out of the anomaly map (see ``vision.regions``: a
    region rises above the map's median by more than half the peak's rise and by more than
    ``pixel_threshold``)."""

    pixel_threshold: float = Field(
        default=0.0,
        ge=0,
        description=(
            "Rise above the map's own median that a good part's map stays under; a region must "
            "rise higher. 0 (packages trained before it existed): the peak fraction alone."
        ),
    )
    validation_good_count: int = Field(default=0, ge=0, description="Good maps the level came from.")


class TrainingDataSpec(_Strict):
    sha256: Sha256Hex = Field(description="Digest over the sorted (relative name, file sha256) list.")
    image_count: int = Field(ge=0)
    description: str = Field(default="", max_length=500)


class EvaluationSummary(_Strict):
    """Metrics measured when the package was built (None where not measurable)."""

    dataset: str = Field(default="", max_length=500, description="What the figures were measured on.")
    image_auroc: float | None = Field(default=None, ge=0, le=1)
    pixel_auroc: float | None = Field(default=None, ge=0, le=1)
    recall_at_1pct_frr: float | None = Field(default=None, ge=0, le=1)
    good_count: int = Field(default=0, ge=0)
    defect_count: int = Field(default=0, ge=0)
    parity_max_abs_diff: float | None = Field(
        default=None, ge=0, description="Largest |ONNX - in-process| score difference at export."
    )


class ModelMetadata(_Strict):
    format_version: Literal[1] = 1
    model_id: ModelId
    engine_version: str = Field(default=__version__, max_length=64)
    created_at: UtcDatetime = Field(default_factory=lambda: datetime.now(UTC))
    method: str = Field(
        max_length=200, description="Scoring method, e.g. 'tiny-mad' or 'multiscale-gaussian'."
    )
    backbone: str = Field(max_length=200, description="Feature extractor the graph embeds.")
    model_sha256: Sha256Hex = Field(description="sha256 of model.onnx; checked on load.")
    input: InputSpec
    outputs: OutputSpec = OutputSpec()
    threshold: ThresholdSpec
    score_normalisation: ScoreNormalisation = ScoreNormalisation()
    class_names: list[str] = Field(default_factory=lambda: ["anomaly"], min_length=1, max_length=256)
    regions: RegionSpec = Field(
        default_factory=RegionSpec, description="How defect regions are cut from the anomaly map."
    )
    defect_classes: DefectClassesSpec | None = Field(
        default=None,
        description="Named defect classes (prototypes, metric, unknown cut-off); None = 'anomaly'.",
    )
    training_data: TrainingDataSpec
    evaluation: EvaluationSummary = EvaluationSummary()
    parameters: dict[str, float | int | str | bool] = Field(
        default_factory=dict, description="Method settings the package was trained with."
    )


@dataclass(frozen=True, slots=True)
class ModelPackage:
    path: Path
    metadata: ModelMetadata
    model_bytes: bytes

    @property
    def digest(self) -> str:
        return self.metadata.model_sha256


def _check_files(directory: Path) -> None:
    if not directory.exists():
        msg = f"model package {directory} does not exist"
        raise ModelError(msg)
    if not directory.is_dir():
        msg = f"model package {directory} is not a directory (expected {MODEL_FILE} + {METADATA_FILE})"
        raise ModelError(msg)
    present = {p.name for p in directory.iterdir()}
    missing = sorted(PACKAGE_FILES - present)
    extra = sorted(present - PACKAGE_FILES)
    if missing:
        msg = f"model package {directory} is missing {', '.join(missing)}"
        raise ModelError(msg)
    if extra:
        msg = (
            f"model package {directory} holds unexpected files: {', '.join(extra)} "
            f"(a package holds exactly {MODEL_FILE} and {METADATA_FILE}; keep signatures beside it)"
        )
        raise ModelError(msg)


def _read_limited(path: Path, limit: int) -> bytes:
    size = path.stat().st_size
    if size > limit:
        msg = f"{path} is {size:,} bytes, more than the {limit:,} allowed"
        raise ModelError(msg)
    return path.read_bytes()


def load_package(directory: Path | str) -> ModelPackage:
    """Read and check a package: both files present and alone, metadata valid, graph digest matching."""
    directory = Path(directory)
    _check_files(directory)
    meta_path = directory / METADATA_FILE
    try:
        raw = json.loads(_read_limited(meta_path, MAX_METADATA_BYTES))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"{meta_path} is not valid JSON: {exc}"
        raise ModelError(msg) from exc
    try:
        metadata = ModelMetadata.model_validate(raw)
    except ValidationError as exc:
        details = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()]
        msg = f"{meta_path} does not match the package format"
        raise ModelError(msg, details=details) from exc
    model_path = directory / MODEL_FILE
    model_bytes = _read_limited(model_path, MAX_MODEL_BYTES)
    if not model_bytes:
        msg = f"{model_path} is empty"
        raise ModelError(msg)
    digest = sha256_hex(model_bytes)
    if digest != metadata.model_sha256:
        msg = (
            f"{model_path} does not match {METADATA_FILE}: metadata pins sha256 {metadata.model_sha256}, "
            f"but the graph hashes to {digest}"
        )
        raise ModelError(msg)
    return ModelPackage(path=directory, metadata=metadata, model_bytes=model_bytes)


def save_package(
    directory: Path | str, *, model_bytes: bytes, metadata: ModelMetadata, overwrite: bool = False
) -> ModelPackage:
    """Write a package atomically; ``metadata.model_sha256`` is set from ``model_bytes``.

    The folder is assembled beside the target and renamed into place, so a crash never
    leaves a half-written package that an edge node could load.
    """
    directory = Path(directory)
    if not model_bytes:
        msg = "cannot save a model package without a graph (model_bytes is empty)"
        raise InputError(msg)
    metadata = metadata.model_copy(update={"model_sha256": sha256_hex(model_bytes)})
    metadata = ModelMetadata.model_validate(metadata.model_dump())  # re-validate the update
    if directory.exists() and not overwrite and (not directory.is_dir() or any(directory.iterdir())):
        msg_0 = f"{directory} already exists and is not empty (choose another path or overwrite)"
        raise InputError(msg_0)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        (staging / MODEL_FILE).write_bytes(model_bytes)
        (staging / METADATA_FILE).write_text(metadata.model_dump_json(indent=2) + "\n", encoding="utf-8")
        staging.chmod(0o755)
        if directory.exists():
            shutil.rmtree(directory) if directory.is_dir() else directory.unlink()
        staging.replace(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ModelPackage(path=directory, metadata=metadata, model_bytes=model_bytes)
