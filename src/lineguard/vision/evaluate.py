"""Evaluating a model package on a labelled test set, exactly as the edge node would run it.

Every image goes through :class:`~lineguard.vision.runtime.OnnxModelRunner` (the same
preprocessing and graph the edge node uses), so the figures describe the package, not
a training-time approximation of it. Latency is the wall time of ``runner.infer`` per
image (preprocessing included), after a short warm-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lineguard.contracts.errors import DatasetError, ImageDecodeError
from lineguard.vision.dataset import GOOD, LabelledImage, scan_dataset
from lineguard.vision.metrics import (
    ThresholdStats,
    aupro,
    auroc,
    recall_at_frr,
    roc_curve,
    stats_at_threshold,
)
from lineguard.vision.preprocess import read_image
from lineguard.vision.runtime import OnnxModelRunner

__all__ = ["EvalReport", "ImageResult", "TypeMetrics", "evaluate_package", "load_mask"]

ProgressCallback = Callable[[str, int, int], None]
WARMUP_RUNS = 3
#: Above this many map pixels, pixel AUROC uses every second row and column (exact ranks, fewer pixels).
MAX_PIXELS = 60_000_000


@dataclass(frozen=True, slots=True)
class TypeMetrics:
    defect_type: str
    count: int
    image_auroc: float
    pixel_auroc: float | None
    recall_at_threshold: float
    #: Per-region overlap up to 30 % pixel FPR (``metrics.aupro``); None without masks.
    aupro: float | None = None


@dataclass(slots=True)
class ImageResult:
    path: Path
    label: str
    score: float
    anomaly_map: np.ndarray
    mask: np.ndarray | None


@dataclass(slots=True)
class EvalReport:
    model_id: str
    model_sha256: str
    dataset: str
    good_count: int
    defect_count: int
    threshold: float
    image_auroc: float
    pixel_auroc: float | None
    recall_at_1pct_frr: float
    at_threshold: ThresholdStats
    per_type: list[TypeMetrics]
    latency_ms_median: float
    latency_ms_p99: float
    providers: list[str]
    threads: int | None
    roc: tuple[list[float], list[float]] = field(default=([], []))
    #: The package's region level (``metadata.regions.pixel_threshold``), for drawing regions.
    region_threshold: float = 0.0
    #: Per-region overlap up to 30 % pixel FPR over every test image (``metrics.aupro``).
    aupro: float | None = None
    results: list[ImageResult] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k not in {"results", "roc"}}
        data["at_threshold"] = asdict(self.at_threshold)
        data["per_type"] = [asdict(t) for t in self.per_type]
        return data


def load_mask(path: Path | None, width: int, height: int) -> np.ndarray:
    """Mask file → bool [height, width] (white = defect); no file means no defect pixels."""
    if path is None:
        return np.zeros((height, width), dtype=bool)
    raw = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if raw is None:
        msg = f"{path}: mask is not a decodable image"
        raise ImageDecodeError(msg)
    return np.asarray(cv2.resize(raw, (width, height), interpolation=cv2.INTER_NEAREST) > 127)


def _pixel_auroc(results: Sequence[ImageResult]) -> float | None:
    usable = [r for r in results if r.mask is not None]
    if not any(r.mask is not None and r.mask.any() for r in usable):
        return None
    total = sum(r.anomaly_map.size for r in usable)
    step = 2 if total > MAX_PIXELS else 1
    labels = np.concatenate([r.mask[::step, ::step].ravel() for r in usable if r.mask is not None])
    scores = np.concatenate([r.anomaly_map[::step, ::step].ravel() for r in usable])
    if labels.all():
        return None
    return auroc(labels, scores)


def _aupro(results: Sequence[ImageResult]) -> float | None:
    usable = [r for r in results if r.mask is not None]
    if not any(r.mask is not None and r.mask.any() for r in usable) or all(
        r.mask is not None and r.mask.all() for r in usable
    ):
        return None
    total = sum(r.anomaly_map.size for r in usable)
    step = 2 if total > MAX_PIXELS else 1
    masks = np.stack([r.mask[::step, ::step] for r in usable if r.mask is not None])
    return aupro(masks, np.stack([r.anomaly_map[::step, ::step] for r in usable]))


def evaluate_package(
    package_dir: Path | str,
    data_dir: Path | str,
    *,
    providers: Sequence[str] | None = None,
    threads: int | None = None,
    progress: ProgressCallback | None = None,
    keep_results: bool = True,
) -> EvalReport:
    """Score every test image of ``data_dir`` with the package and compute the metrics."""
    runner = OnnxModelRunner(package_dir, providers=providers, threads=threads)
    dataset = scan_dataset(data_dir, require_train=False, require_test=True)
    items: list[LabelledImage] = dataset.test
    if not any(i.is_defect for i in items):
        msg = f"{Path(data_dir) / 'test'} has no test/<defect_type> folders: AUROC needs defective images"
        raise DatasetError(msg)
    spec = runner.metadata.input
    has_masks = any(i.mask is not None for i in items)
    first = read_image(items[0].path)
    for _ in range(WARMUP_RUNS):
        runner.infer(first)
    results: list[ImageResult] = []
    latencies: list[float] = []
    for n, item in enumerate(items, 1):
        image = read_image(item.path)
        t0 = time.perf_counter()
        scores = runner.infer(image)
        latencies.append((time.perf_counter() - t0) * 1000)
        mask = None
        if has_masks and (not item.is_defect or item.mask is not None):
            mask = load_mask(item.mask, spec.width, spec.height)
        results.append(ImageResult(item.path, item.label, scores.anomaly_score, scores.anomaly_map, mask))
        if progress:
            progress("evaluate", n, len(items))
    labels = np.array([r.label != GOOD for r in results])
    scores_arr = np.array([r.score for r in results])
    threshold = runner.threshold
    per_type: list[TypeMetrics] = []
    for defect_type in dataset.defect_types:
        sel = [r for r in results if r.label in {GOOD, defect_type}]
        y = np.array([r.label != GOOD for r in sel])
        s = np.array([r.score for r in sel])
        per_type.append(
            TypeMetrics(
                defect_type=defect_type,
                count=int(y.sum()),
                image_auroc=auroc(y, s),
                pixel_auroc=_pixel_auroc(sel) if has_masks else None,
                recall_at_threshold=float((s[y] > threshold).mean()),
                aupro=_aupro(sel) if has_masks else None,
            )
        )
    fpr, tpr, _ = roc_curve(labels, scores_arr)
    return EvalReport(
        model_id=runner.model_id,
        model_sha256=runner.digest,
        dataset=str(data_dir),
        good_count=int((~labels).sum()),
        defect_count=int(labels.sum()),
        threshold=threshold,
        image_auroc=auroc(labels, scores_arr),
        pixel_auroc=_pixel_auroc(results) if has_masks else None,
        recall_at_1pct_frr=recall_at_frr(labels, scores_arr, 0.01),
        at_threshold=stats_at_threshold(labels, scores_arr, threshold),
        per_type=per_type,
        latency_ms_median=float(np.median(latencies)),
        latency_ms_p99=float(np.percentile(latencies, 99)),
        providers=runner.providers,
        threads=threads,
        roc=(fpr.tolist(), tpr.tolist()),
        region_threshold=runner.metadata.regions.pixel_threshold,
        aupro=_aupro(results) if has_masks else None,
        results=results if keep_results else [],
    )
