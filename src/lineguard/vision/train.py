"""Training a model package from a folder of good images (MVTec AD layout).

``train_package(DIR, OUT)``: read ``DIR/train/good`` (and ``DIR/train/<defect>``, labelled
defects that become named defect classes, see ``classes``) → split off held-out good images
(deterministically, by a hash of each file name; ``DIR/validation`` is used instead
when it exists) → backbone features (the backbone run in onnxruntime; with
``nuisance_copies`` also of shifted, rotated, re-lit, blurred and noisy copies of the
fitted images, see ``augment``) → fit the local and global Gaussians on the rest
→ standardise both branches and calibrate the threshold (and the level a region must
rise to, see ``regions``) on the held-out images → export
one ONNX graph → check ONNX against torch on every held-out image → write the package.

Everything is closed-form (means, shrunk covariances, one eigendecomposition): no
epochs, no random initialisation (nuisance copies are seeded per image), the same data
gives the same package (up to ``created_at``).
Imports torch: training-time only.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import numpy as np
import torch

from lineguard.contracts.errors import DatasetError, InputError
from lineguard.vision.augment import nuisance_copy
from lineguard.vision.backbones import Backbone, build_backbone
from lineguard.vision.calibration import SmallSample, calibrate_threshold
from lineguard.vision.classes import DefectClassesSpec, class_name_of_folder, known_names
from lineguard.vision.classfit import fit_classes, labelled_vectors
from lineguard.vision.dataset import GOOD, Dataset, dataset_digest, scan_dataset
from lineguard.vision.defectproto import PrototypeChoice, choose_prototypes, mask_covers
from lineguard.vision.export import OUTPUT_NAMES, OnnxFeatures, export_onnx, parity
from lineguard.vision.fewshot import BranchWeight, fit_local_weight
from lineguard.vision.localfit import MAX_GRID_RIDGE, MAX_NEIGHBOURHOOD, fit_local, position_standardiser
from lineguard.vision.lowpass import LowPass
from lineguard.vision.metrics import auroc, recall_at_frr
from lineguard.vision.onnx_backbone import OnnxBackbone, export_with_onnx_backbone, is_onnx_backbone
from lineguard.vision.package import (
    EvaluationSummary,
    InputSpec,
    ModelMetadata,
    ModelPackage,
    OutputSpec,
    RegionSpec,
    ScoreNormalisation,
    TrainingDataSpec,
    save_package,
    sha256_hex,
)
from lineguard.vision.preprocess import ColourOrder, _resize, prepare_input, read_image
from lineguard.vision.regions import good_rise_level
from lineguard.vision.scoring import (
    FUSIONS,
    Detector,
    Fusion,
    LocalGlobalHead,
    LowRankGaussian,
    global_descriptor,
    local_embedding,
)

__all__ = [
    "METHOD",
    "FittedDetector",
    "ProgressCallback",
    "TrainConfig",
    "TrainResult",
    "fit_detector",
    "load_inputs",
    "split_holdout",
    "train_package",
]

METHOD = "local-global-gaussian"
#: (stage, done, total) — called as work progresses; stages: read, fit, calibrate, export, parity.
ProgressCallback = Callable[[str, int, int], None]
MIN_FIT_IMAGES = 8
MIN_HOLDOUT_IMAGES = 4
#: False-reject target when the quality engineer sets no goal.
DEFAULT_TARGET_FRR = 0.01

#: Held-out (and validation-defect) images whose ONNX and torch scores are compared at export.
PARITY_SAMPLE = 16
MAX_NUISANCE_COPIES = 4
MAX_GLOBAL_LOWPASS = 8.0
#: ``TrainConfig.local_pool``: the local grid at the finest map's stride, or at twice it.
LOCAL_POOLS = (1, 2)


@dataclass(frozen=True, slots=True)
class TrainConfig:
    #: A built-in name (``mobilenet-v2``, ``efficientnet-lite0``) or the path of an ONNX feature extractor.
    backbone: str = "mobilenet-v2"
    #: Square input side; a multiple of 128 so every feature map splits into the pyramid's 4x4 grid.
    image_size: int = 256
    #: Built-in backbones: blocks whose outputs are read (shallow to deep); None = the
    #: backbone's strides 4 / 8 / 16 / 32 (MobileNetV2: features.3, .6, .13, .16).
    backbone_layers: tuple[int, ...] | None = None
    #: Indices into the backbone's outputs; None = the default for the backbone (see resolve_layers).
    local_layers: tuple[int, ...] | None = None
    global_layers: tuple[int, ...] | None = None
    #: Normalisation an ONNX backbone expects (built-ins know their own).
    onnx_mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    onnx_std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    #: Gaussian smoothing of the upsampled local map, in input pixels.
    sigma: float = 4.0
    #: How the standardised branches are fused (``scoring``): the image score is their
    #: maximum and the map the local map lifted to it (the default: the suite's choice,
    #: docs/detection.md), or their sum (the first round's rule).
    fusion: Fusion = "max"
    max_rank: int = 256
    #: The global branch reads the image low-passed by a Gaussian of this sigma (pixels of
    #: a 256-px input, scaled with ``image_size``) in a second backbone pass (``lowpass``):
    #: 1-px blur and sensor noise then no longer flag good parts (the suite's choice,
    #: docs/detection.md: 2.5 removes the global branch's nuisance flags on every set at
    #: the same AUROC; ~1.5x CPU per inference). 0 = one pass shared with the local
    #: branch. Built-in backbones only (a plant's ONNX backbone runs one pass).
    global_lowpass: float = 2.5
    #: The low-passed image is taken every ``global_step`` pixels: 2 runs the global pass
    #: at half resolution, about a quarter of its cost (``image_size / global_step`` must
    #: stay a multiple of 128). Not the default: magnetic tile's recall at 1 % FRR falls
    #: about 0.85 → 0.75 alone, 0.84 → 0.67 with ``local_pool = 2`` (0.56x the CPU on one thread;
    #: #24 sixth and eleventh sessions, docs/detection.md): the trunk sees the part at half size.
    global_step: int = 1
    #: The local branch's fit (``localfit``): each position's Gaussian from the embeddings
    #: of the (2r + 1)² grid positions around it (0 = its own), and the least Ledoit–Wolf
    #: shrinkage as ``k * channels / images`` (0 = Ledoit–Wolf's own estimate, the default
    #: until #24's sixth session). 0.05 is the suite's choice (docs/detection.md): with 68
    #: images it lifts the synthetic low-res set's AUROC 0.987 → 0.994; with 580 (magnetic
    #: tile) it is below Ledoit–Wolf's estimate at all but a few positions.
    local_neighbourhood: int = 0
    local_shrink_floor: float = 0.05
    #: The local grid's cells: the finest local map average-pooled ``k`` x ``k`` (``local_embedding``).
    #: 2 puts MobileNetV2's grid at stride 16 (16 x 16 at 256 px): the per-position matrices,
    #: which every frame reads, shrink to a quarter (#24 tenth session, docs/detection.md:
    #: 0.93x CPU per inference; not the default).
    local_pool: int = 1
    #: ``grid_ridge * channels / images`` x the grid's mean variance added to every
    #: position's covariance (``localfit``): the same amount at every position, fading with
    #: the fit's size. 0 = off (the default). 0.05 (#24 ninth session, docs/detection.md):
    #: with 68 images it closes the synthetic low-res set's gap to PaDiM (0.994 → 0.997),
    #: with 580 (magnetic tile) it moves AUROC by −0.0001, but it raises one nuisance flag
    #: (s2 rotation +0.27 → +0.36), so it is not the default.
    local_grid_ridge: float = 0.0
    #: Standardise the local distance per grid position by the fit images' own mean and
    #: standard deviation there (``localfit.position_standardiser``) before the map is
    #: upsampled and its peak taken: a position whose goods' distances run high no longer
    #: sets the peak of many good images. Off by default (#24 tenth session,
    #: docs/detection.md): magnetic tile's AUROC rises on every split (+0.0010), the
    #: synthetic low-res set's past its anchors (0.998), but the dim + noisy set loses
    #: (-0.0005, recall -0.02), and magnetic tile's worst nuisance rise (+0.07 -> +0.10)
    #: and per-type pixel AUROC (0.956 -> 0.947) get worse. Costs one distance pass
    #: over the fit images at training, two element-wise operations on the 32x32 grid per
    #: inference.
    local_position_norm: bool = False
    #: With ``local_position_norm``: each position's unit floored at this quantile of the
    #: grid's (0 = off, the option as in #24's tenth session; 0.5 = the median). Measured in
    #: #24's eleventh session (docs/detection.md): a quiet position is no longer magnified,
    #: which is where the plain unit lost the dim + noisy set (0.5 keeps it at 1.0000 and
    #: magnetic tile's recall gain), but magnetic tile's worst nuisance rise stays up (+0.089
    #: against +0.070), so it is not the default. Costs nothing more: the same two
    #: element-wise operations per inference.
    local_position_floor: float = 0.0
    #: Let labelled defects (``train/<defect>``, ``validation/<defect>``) choose the fusion
    #: and the local branch's weight (``fewshot``); off, or without them, the zero-shot maximum.
    few_shot: bool = True
    #: With ``few_shot``: labelled defects' most anomalous cells become prototypes in the local
    #: whitened space (``defectproto``: nearest labelled defect patch), and their evidence
    #: replaces the local branch's in the image score where it separates the labelled defects
    #: (read leave-one-out) better; the map stays the zero-shot one. Off by default: at k = 1
    #: it ends level with the shipped rule on magnetic tile (0.821 vs 0.818, 4 splits x 10
    #: draws) and k = 5 / 10 over the suite is unmeasured (#24 eleventh session, docs/detection.md).
    few_shot_prototypes: bool = False
    #: Nuisance copies of every fitted good image (``augment``: shift, rotation, light,
    #: blur, sensor noise) added to what the Gaussians are fitted on; the held-out images
    #: that set the threshold stay as photographed. Each copy costs one more backbone pass.
    nuisance_copies: int = 0
    holdout_fraction: float = 0.15
    #: "At most this false-reject rate", the quality engineer's goal: the threshold is that
    #: quantile of the held-out goods, and labelled defects (``validation/<defect>``) only
    #: measure the recall it buys. Unset: 1 % without labelled defects, with them the best
    #: F1 within 5 % false rejects.
    target_frr: float | None = None
    #: "At least this recall" instead of a false-reject target; needs labelled defects.
    min_recall: float | None = None
    #: The threshold when there are too few held-out goods to observe the false-reject
    #: target's quantile (under 100 for 1 %; ``calibration``): "max", their highest score
    #: (about 1 / (n + 1) false rejects, 8 % with 12), or "tail", a fitted Gaussian tail's
    #: quantile (#24 seventh session, docs/detection.md). Enough held-out goods: no effect.
    threshold_small_sample: SmallSample = "max"
    batch_size: int = 16
    threads: int | None = None
    model_id: str | None = None
    parity_tolerance: float = 1e-4

    def check(self) -> None:
        if self.image_size % 128 or not 128 <= self.image_size <= 1024:
            msg = f"image_size must be a multiple of 128 between 128 and 1024, got {self.image_size}"
            raise InputError(msg)
        if self.min_recall is not None and not 0 < self.min_recall <= 1:
            msg = f"min_recall must be in (0, 1], got {self.min_recall}"
            raise InputError(msg)
        if self.target_frr is not None and not 0 < self.target_frr < 1:
            msg = f"target_frr must be in (0, 1), got {self.target_frr}"
            raise InputError(msg)
        if self.target_frr is not None and self.min_recall is not None:
            msg = (
                f"one operating goal at a time: at most {self.target_frr:.1%} false rejects or at least "
                f"{self.min_recall:.1%} recall, not both"
            )
            raise InputError(msg)
        if not 0 <= self.nuisance_copies <= MAX_NUISANCE_COPIES:
            msg = f"nuisance_copies must be between 0 and {MAX_NUISANCE_COPIES}, got {self.nuisance_copies}"
            raise InputError(msg)
        if self.fusion not in FUSIONS:
            msg = f"fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}"
            raise InputError(msg)
        if not 0 <= self.global_lowpass <= MAX_GLOBAL_LOWPASS or self.global_step not in (1, 2):
            msg = (
                f"global_lowpass must be between 0 and {MAX_GLOBAL_LOWPASS} px and global_step 1 or 2, "
                f"got {self.global_lowpass} and {self.global_step}"
            )
            raise InputError(msg)
        if self.global_step > 1 and (self.global_lowpass == 0 or (self.image_size // self.global_step) % 128):
            msg = (
                f"global_step {self.global_step} needs a low-pass (global_lowpass > 0) and "
                f"image_size / global_step a multiple of 128 (image_size {self.image_size})"
            )
            raise InputError(msg)
        if not 0 <= self.local_neighbourhood <= MAX_NEIGHBOURHOOD or not 0 <= self.local_shrink_floor <= 1:
            msg = (
                f"local_neighbourhood must be between 0 and {MAX_NEIGHBOURHOOD} grid positions and "
                f"local_shrink_floor between 0 and 1, "
                f"got {self.local_neighbourhood} and {self.local_shrink_floor}"
            )
            raise InputError(msg)
        if self.local_pool not in LOCAL_POOLS:
            msg = f"local_pool must be one of {LOCAL_POOLS}, got {self.local_pool}"
            raise InputError(msg)
        if not 0 <= self.local_grid_ridge <= MAX_GRID_RIDGE:
            msg = f"local_grid_ridge must be between 0 and {MAX_GRID_RIDGE}, got {self.local_grid_ridge}"
            raise InputError(msg)
        if not 0 <= self.local_position_floor < 1:
            msg = f"local_position_floor must be in [0, 1), got {self.local_position_floor}"
            raise InputError(msg)
        if self.local_position_floor and not self.local_position_norm:
            msg = (
                f"local_position_floor {self.local_position_floor} floors the position norm's unit: "
                "it needs local_position_norm=True"
            )
            raise InputError(msg)
        if not 0 < self.holdout_fraction < 0.5:
            msg = f"holdout_fraction must be in (0, 0.5), got {self.holdout_fraction}"
            raise InputError(msg)
        if self.threshold_small_sample not in ("max", "tail"):
            msg = f"threshold_small_sample must be 'max' or 'tail', got {self.threshold_small_sample!r}"
            raise InputError(msg)

    def resolve_layers(self, outputs: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(local, global) output indices: explicit ones checked, defaults filled in.

        Defaults: the global descriptor reads every output; the local embedding reads all
        but the shallowest when there are three or more (stride 4 is noisy and costly).
        """
        local = self.local_layers or (tuple(range(1, outputs)) if outputs >= 3 else tuple(range(outputs)))
        if outputs == 4 and self.local_layers is None:
            local = (1, 2)  # stride 8 + 16: the deepest (stride 32) is too coarse to localise
        glob = self.global_layers or tuple(range(outputs))
        if any(not 0 <= i < outputs for i in (*local, *glob)):
            msg = f"local/global layer indices must index the backbone's {outputs} outputs (0..{outputs - 1})"
            raise InputError(msg)
        return local, glob


@dataclass(slots=True)
class FittedDetector:
    detector: Detector
    config: TrainConfig
    fit_paths: list[Path]
    holdout_paths: list[Path]
    holdout_scores: np.ndarray
    #: Rise above its own median that a held-out good map stays under (``regions.good_rise_level``).
    region_level: float
    local_norm: tuple[float, float]
    global_norm: tuple[float, float]
    seconds: dict[str, float] = field(default_factory=dict)
    #: The local branch's weight and its evidence (``fewshot``); weight 1 without labelled defects.
    local_weight: BranchWeight | None = None
    #: The nearest-labelled-defect-patch evidence and whether it scores images (``defectproto``).
    prototypes: PrototypeChoice | None = None
    #: Image scores of labelled defects the package cannot score out of sample (its own
    #: prototypes): each read without its own prototypes, for calibration.
    labelled_scores: dict[Path, float] = field(default_factory=dict)

    def score(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            s, m = self.detector(torch.from_numpy(tensor))[:2]
        return s.numpy(), m.numpy()


@dataclass(frozen=True, slots=True)
class TrainResult:
    package: ModelPackage
    fitted: FittedDetector
    seconds: float


def _noop(stage: str, done: int, total: int) -> None:
    del stage, done, total


def split_holdout(root: Path, paths: Sequence[Path], fraction: float) -> tuple[list[Path], list[Path]]:
    """(fit, holdout): the holdout is the files whose name hashes lowest — stable across runs and machines."""
    n = len(paths)
    n_hold = max(MIN_HOLDOUT_IMAGES, round(fraction * n))
    if n - n_hold < MIN_FIT_IMAGES:
        msg = (
            f"{root / 'train' / GOOD} holds {n} good images; at least {MIN_FIT_IMAGES + MIN_HOLDOUT_IMAGES} "
            f"are needed ({MIN_FIT_IMAGES} to learn from, {MIN_HOLDOUT_IMAGES} held out to calibrate)"
        )
        raise DatasetError(msg)

    def key(p: Path) -> str:
        return hashlib.sha256(p.relative_to(root).as_posix().encode()).hexdigest()

    ranked = sorted(paths, key=key)
    holdout = set(ranked[:n_hold])
    return [p for p in paths if p not in holdout], [p for p in paths if p in holdout]


def load_inputs(
    paths: Sequence[Path],
    size: int,
    colour_order: ColourOrder = "RGB",
    *,
    nuisance_seeds: Sequence[int] | None = None,
) -> np.ndarray:
    """Decode and preprocess files → [N, 3, size, size]; a bad file raises naming it.

    With ``nuisance_seeds`` (one per path) each image is replaced by its
    :func:`~lineguard.vision.augment.nuisance_copy` at the input size.
    """
    if nuisance_seeds is None:
        images = [read_image(p) for p in paths]
    else:
        images = [
            nuisance_copy(_resize(read_image(p), size, size), seed)
            for p, seed in zip(paths, nuisance_seeds, strict=True)
        ]
    return np.concatenate(
        [
            prepare_input(im, width=size, height=size, colour_order=colour_order, source=str(p))
            for p, im in zip(paths, images, strict=True)
        ]
    )


def _extract(
    image_parts: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    paths: Sequence[Path],
    config: TrainConfig,
    progress: ProgressCallback,
    stage: str,
    copies: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings, descriptors) of ``paths``, then of ``copies`` nuisance copies of each."""
    n = len(paths)
    total = n * (1 + copies)
    embs: np.ndarray | None = None
    descs: np.ndarray | None = None
    for copy in range(1 + copies):
        for start in range(0, n, config.batch_size):
            chunk = paths[start : start + config.batch_size]
            # Copy k (>= 1) of image i is seeded by (k, i): the same data gives the same package.
            seeds = [copy * 1_000_003 + start + j for j in range(len(chunk))] if copy else None
            with torch.no_grad():
                batch = load_inputs(chunk, config.image_size, nuisance_seeds=seeds)
                emb, desc = image_parts(torch.from_numpy(batch))
            if embs is None or descs is None:
                embs = np.empty((total, *emb.shape[1:]), dtype=np.float32)
                descs = np.empty((total, desc.shape[1]), dtype=np.float32)
            row = copy * n + start
            embs[row : row + len(chunk)] = emb.numpy()
            descs[row : row + len(chunk)] = desc.numpy()
            progress(stage, row + len(chunk), total)
    assert embs is not None and descs is not None  # noqa: S101 - paths is never empty here
    return embs, descs


def _standardiser(values: np.ndarray) -> tuple[float, float]:
    mean = float(values.mean())
    std = float(values.std())
    return mean, max(std, 1e-3 * abs(mean), 1e-6)


def fit_detector(
    fit_paths: Sequence[Path],
    holdout_paths: Sequence[Path],
    config: TrainConfig | None = None,
    progress: ProgressCallback | None = None,
    *,
    defect_paths: Sequence[Path] = (),
    defect_masks: Sequence[Path | None] = (),
) -> FittedDetector:
    """Fit the in-process detector on ``fit_paths``, standardise it on ``holdout_paths``.

    ``defect_paths`` (labelled defective images) choose the image score
    (``fewshot.fit_local_weight``) when ``config.few_shot`` and the fusion is the maximum:
    a weighted sum becomes the head's ``score_weight`` (the map is unchanged), a weighted
    maximum divides the local branch's standardising scale; with ``few_shot_prototypes``
    their prototypes (``defectproto``; ``defect_masks``, one per path or none, mark where
    each defect lies) may score images instead.
    """
    if defect_masks and len(defect_masks) != len(defect_paths):
        msg = f"one mask (or None) per labelled defect: {len(defect_paths)} paths, {len(defect_masks)} masks"
        raise InputError(msg)
    config = config or TrainConfig()
    config.check()
    report = progress or _noop
    if config.threads:
        torch.set_num_threads(config.threads)
    timings: dict[str, float] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    backbone = _backbone(config)
    n_outputs = len(backbone.output_names) if isinstance(backbone, OnnxBackbone) else len(backbone.layers)
    local_layers, global_layers = config.resolve_layers(n_outputs)
    lowpass = _global_input(config, backbone)
    # Features through onnxruntime (a plant's ONNX backbone already runs there): a tenth
    # of torch's CPU time for the same numbers to ~2e-5 (``export.OnnxFeatures``).
    extractor: Callable[[torch.Tensor], list[torch.Tensor]] = (
        backbone
        if isinstance(backbone, OnnxBackbone)
        else OnnxFeatures(backbone, size=config.image_size, outputs=n_outputs, threads=config.threads)
    )
    global_extractor = extractor
    if lowpass is not None and lowpass.step > 1:  # the session's input size is fixed
        size = config.image_size // lowpass.step
        global_extractor = OnnxFeatures(backbone, size=size, outputs=n_outputs, threads=config.threads)

    def probe(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = extractor(image)
        glob = feats if lowpass is None else global_extractor(lowpass(image))
        return local_embedding(feats, local_layers, config.local_pool), global_descriptor(glob, global_layers)

    fit_emb, fit_desc = _extract(
        probe, list(fit_paths), config, report, "features", copies=config.nuisance_copies
    )
    hold_emb, hold_desc = _extract(probe, list(holdout_paths), config, report, "holdout")
    timings["features_s"] = time.perf_counter() - t0
    timings["features_cpu_s"] = time.process_time() - c0
    t1, c1 = time.perf_counter(), time.process_time()
    report("fit", 0, 2)
    local = fit_local(
        fit_emb,
        neighbourhood=config.local_neighbourhood,
        shrink_floor=config.local_shrink_floor,
        grid_ridge=config.local_grid_ridge,
    )
    timings["local_fit_cpu_s"] = time.process_time() - c1
    report("fit", 1, 2)
    glob = LowRankGaussian.fit(fit_desc, max_rank=config.max_rank)
    timings["global_fit_cpu_s"] = time.process_time() - c1 - timings["local_fit_cpu_s"]
    report("fit", 2, 2)
    size = config.image_size
    head = LocalGlobalHead(
        local_layers=local_layers,
        global_layers=global_layers,
        local_stats=local,
        global_stats=glob,
        grid=(int(fit_emb.shape[2]), int(fit_emb.shape[3])),
        output_size=(size, size),
        sigma=config.sigma,
        fusion=config.fusion,
        global_lowpass=lowpass.sigma if lowpass is not None else 0.0,
        global_step=lowpass.step if lowpass is not None else 1,
        local_pool=config.local_pool,
    )
    if config.local_position_norm:
        with torch.no_grad():
            own = [
                head.local_distance(torch.from_numpy(fit_emb[i : i + 32])) for i in range(0, len(fit_emb), 32)
            ]
        head.set_position_norm(*position_standardiser(torch.cat(own).numpy(), config.local_position_floor))
    with torch.no_grad():
        local_map, gdist = head.raw_from_parts(torch.from_numpy(hold_emb), torch.from_numpy(hold_desc))
    local_max = local_map.flatten(1).amax(1).numpy()
    if np.ptp(local_max) <= 1e-6 * (1 + np.abs(local_max).max()) and np.ptp(gdist.numpy()) <= 1e-6 * (
        1 + float(gdist.abs().max())
    ):
        msg = (
            f"the {len(holdout_paths)} held-out good images all score the same: the training images are "
            "(nearly) identical, so there is no normal variation to learn; add images of different good parts"
        )
        raise DatasetError(msg)
    local_norm = _standardiser(local_max)
    global_norm = _standardiser(gdist.numpy())
    weight, proto = None, None
    if defect_paths and config.few_shot and config.fusion == "max":
        def_emb, def_desc = _extract(probe, list(defect_paths), config, report, "labelled")
        with torch.no_grad():
            def_map, def_gdist = head.raw_from_parts(torch.from_numpy(def_emb), torch.from_numpy(def_desc))
        z_global = (
            (gdist.numpy() - global_norm[0]) / global_norm[1],
            (def_gdist.numpy() - global_norm[0]) / global_norm[1],
        )
        weight = fit_local_weight(
            (local_max - local_norm[0]) / local_norm[1],
            z_global[0],
            (def_map.flatten(1).amax(1).numpy() - local_norm[0]) / local_norm[1],
            z_global[1],
        )
        if config.few_shot_prototypes:
            covers = mask_covers(defect_masks, head.grid, size) if defect_masks else None
            proto = choose_prototypes(head, hold_emb, def_emb, covers, z_global, weight.separation)
        if proto is not None and proto.taken:  # the score only: the map stays the zero-shot one
            head.set_prototypes(*proto.prototypes.tensors())
            head.set_prototype_score(proto.norm, proto.weight.fusion, proto.weight.local)
        elif weight.fusion == "sum":  # the score only: the map stays the maximum's lifted map
            head.score_weight = weight.local
        else:
            local_norm = (local_norm[0], local_norm[1] / weight.local)
    head.set_normalisation(local_norm, global_norm)
    hold_proto = torch.from_numpy(proto.hold_peaks).float() if head.prototypes and proto else None
    with torch.no_grad():
        holdout_scores, holdout_maps = head.combine(local_map, gdist, hold_proto)
    region_level = good_rise_level(holdout_maps.numpy())
    timings["fit_s"] = time.perf_counter() - t1
    timings["fit_cpu_s"] = time.process_time() - c1
    detector = Detector(backbone, head).eval()
    return FittedDetector(
        detector=detector,
        config=config,
        fit_paths=list(fit_paths),
        holdout_paths=list(holdout_paths),
        holdout_scores=holdout_scores.numpy(),
        region_level=region_level,
        local_norm=local_norm,
        global_norm=global_norm,
        seconds=timings,
        local_weight=weight,
        prototypes=proto,
        labelled_scores=(
            dict(zip(defect_paths, map(float, proto.labelled_scores), strict=True))
            if proto is not None and proto.taken
            else {}
        ),
    )


def _backbone(config: TrainConfig) -> Backbone | OnnxBackbone:
    if is_onnx_backbone(config.backbone):
        return OnnxBackbone(
            config.backbone,
            image_size=config.image_size,
            mean=config.onnx_mean,
            std=config.onnx_std,
            threads=config.threads,
        )
    return build_backbone(config.backbone, layers=config.backbone_layers, image_size=config.image_size)


def _global_input(config: TrainConfig, backbone: Backbone | OnnxBackbone) -> LowPass | None:
    """The global branch's low-pass, or None: off in the config, or a plant's ONNX backbone
    (its graph is stitched in once, ``onnx_backbone``)."""
    if config.global_lowpass <= 0 or isinstance(backbone, OnnxBackbone):
        return None
    # sigma is given for a 256-px input: the same blur relative to the part at any size
    return LowPass(config.global_lowpass * config.image_size / 256, config.global_step)


def _image_score_kind(head: LocalGlobalHead) -> str:
    if head.prototypes:
        return f"defect prototypes ({'weighted sum' if head.proto_fusion == 'sum' else 'maximum'})"
    return "weighted sum" if head.score_weight is not None else "map peak"


def _copies_note(copies: int) -> str:
    return f" with {copies} nuisance {'copy' if copies == 1 else 'copies'} each" if copies else ""


_FUSED = {
    "max": "z_local + max(0, z_global - max z_local) (score: max(max z_local, z_global))",
    "sum": "z_local + z_global",
}


def _model_id(root: Path, created: datetime) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", root.resolve().name).strip("-._") or "model"
    return f"{slug[:80]}-{created:%Y%m%dT%H%M%SZ}"


def _score_paths(fitted: FittedDetector, paths: Sequence[Path]) -> np.ndarray:
    """Image scores; a labelled defect among the package's own prototypes is read without them."""
    unseen = [p for p in paths if p not in fitted.labelled_scores]
    out = [
        fitted.score(load_inputs(unseen[i : i + 16], fitted.config.image_size))[0]
        for i in range(0, len(unseen), 16)
    ]
    scored = iter(np.concatenate(out) if out else np.zeros(0, dtype=np.float32))
    return np.array(
        [fitted.labelled_scores[p] if p in fitted.labelled_scores else next(scored) for p in paths],
        dtype=np.float32,
    )


def _class_names(dataset: Dataset, config: TrainConfig) -> list[str]:
    """Class name per ``train/<defect>`` image; refuses what cannot become a class (before any fitting)."""
    if dataset.train_defects and is_onnx_backbone(config.backbone):
        msg = (
            f"{dataset.root}/train holds labelled defects "
            f"({', '.join(sorted({i.label for i in dataset.train_defects}))}), "
            "but named defect classes need a built-in backbone; move them to validation/<defect> to "
            "calibrate with them only"
        )
        raise InputError(msg)
    return [class_name_of_folder(i.label) for i in dataset.train_defects]


def _fit_classes(fitted: FittedDetector, dataset: Dataset) -> DefectClassesSpec | None:
    """Named defect classes from ``train/<defect>`` (None when there are no such folders)."""
    if not dataset.train_defects:
        return None
    names = _class_names(dataset, fitted.config)
    paths = [i.path for i in dataset.train_defects]
    size = fitted.config.image_size
    vectors = np.concatenate(
        [
            labelled_vectors(fitted.detector, load_inputs(paths[i : i + 16], size), fitted.region_level)
            for i in range(0, len(paths), 16)
        ]
    )
    return fit_classes(vectors, names)


def train_package(
    data_dir: Path | str,
    out_dir: Path | str,
    *,
    config: TrainConfig | None = None,
    progress: ProgressCallback | None = None,
    overwrite: bool = False,
) -> TrainResult:
    """Train on ``data_dir`` (MVTec AD layout) and write a package to ``out_dir``."""
    started = time.perf_counter()
    config = config or TrainConfig()
    config.check()
    report = progress or _noop
    root = Path(data_dir)
    out = Path(out_dir)
    if out.exists() and not overwrite and (not out.is_dir() or any(out.iterdir())):
        msg = f"{out} already exists and is not empty (choose another path or overwrite)"
        raise InputError(msg)
    dataset: Dataset = scan_dataset(root)
    val_good = [i.path for i in dataset.validation if not i.is_defect]
    val_defects = [i.path for i in dataset.validation if i.is_defect]
    if config.min_recall is not None and not val_defects:
        msg = (
            f"a recall target ({config.min_recall:.1%}) needs labelled defects in "
            f"{root}/validation/<defect>; without them set a false-reject target instead"
        )
        raise InputError(msg)
    if val_good:
        fit_paths, holdout_paths = list(dataset.train_good), val_good
        holdout_note = f"{len(val_good)} good images from validation/good"
    else:
        fit_paths, holdout_paths = split_holdout(root, dataset.train_good, config.holdout_fraction)
        holdout_note = f"{len(holdout_paths)} good images held out of train/good by file-name hash"
    _class_names(dataset, config)  # refuse unusable class folders before the minutes of fitting
    fitted = fit_detector(
        fit_paths,
        holdout_paths,
        config,
        report,
        defect_paths=[*(i.path for i in dataset.train_defects), *val_defects],
        defect_masks=[i.mask for i in (*dataset.train_defects, *dataset.validation) if i.is_defect],
    )

    t_stage, c_stage = time.perf_counter(), time.process_time()

    def stage_done(name: str) -> None:  # wall and CPU seconds of each stage, for the benchmarks
        nonlocal t_stage, c_stage
        fitted.seconds[f"{name}_s"] = time.perf_counter() - t_stage
        fitted.seconds[f"{name}_cpu_s"] = time.process_time() - c_stage
        t_stage, c_stage = time.perf_counter(), time.process_time()

    report("calibrate", 0, 1)
    defect_scores = _score_paths(fitted, val_defects)
    if config.target_frr is not None or (config.min_recall is None and not val_defects):
        # "At most X % false rejects", as the engineer set it (or the default goal). Labelled
        # defects that only sit in train/<defect> (the named classes' examples) do not move
        # the threshold, but they measure the recall it buys, so the operating point states
        # it rather than "recall not measured" (#24 item 3).
        measured = (
            defect_scores if val_defects else _score_paths(fitted, [i.path for i in dataset.train_defects])
        )
        threshold = calibrate_threshold(
            fitted.holdout_scores,
            measured,
            target_frr=DEFAULT_TARGET_FRR if config.target_frr is None else config.target_frr,
            objective="frr",
            small_sample=config.threshold_small_sample,
        )
    elif config.min_recall is None:
        threshold = calibrate_threshold(
            fitted.holdout_scores,
            defect_scores,
            target_frr=DEFAULT_TARGET_FRR,
            small_sample=config.threshold_small_sample,
        )
    else:
        # "At least Y % recall": the highest threshold that still catches Y % of the labelled
        # defects, whatever false-reject rate that costs (reported with its interval).
        threshold = calibrate_threshold(
            fitted.holdout_scores,
            defect_scores,
            objective="recall",
            min_recall=config.min_recall,
            max_frr=0.999,
        )
    evaluation = EvaluationSummary(dataset=holdout_note, good_count=len(holdout_paths))
    if val_defects:
        labels = np.r_[np.zeros(len(holdout_paths)), np.ones(len(val_defects))]
        scores = np.r_[fitted.holdout_scores, defect_scores]
        evaluation = EvaluationSummary(
            dataset=f"validation: {holdout_note} and {len(val_defects)} labelled defects",
            image_auroc=auroc(labels, scores),
            recall_at_1pct_frr=recall_at_frr(labels, scores, 0.01),
            good_count=len(holdout_paths),
            defect_count=len(val_defects),
        )
    report("calibrate", 1, 1)

    classes = _fit_classes(fitted, dataset)
    stage_done("calibrate")

    report("export", 0, 1)
    size = config.image_size
    backbone = fitted.detector.backbone
    if isinstance(backbone, OnnxBackbone):
        model_bytes = export_with_onnx_backbone(backbone, fitted.detector.head, size=size)
    else:
        fitted.detector.region_features = classes is not None
        model_bytes = export_onnx(fitted.detector, height=size, width=size, outputs=3 if classes else 2)
    report("export", 1, 1)
    stage_done("export")
    # Parity on a sample here (the benchmark and CI check every test image): the check
    # runs torch and onnxruntime side by side, which costs as much as training itself.
    check_paths = [
        *holdout_paths[:PARITY_SAMPLE],
        *val_defects[:PARITY_SAMPLE],
        *(i.path for i in dataset.train_defects[:PARITY_SAMPLE]),
    ]
    batches = [load_inputs(check_paths[i : i + 8], size) for i in range(0, len(check_paths), 8)]
    batches.append(batches[0][:1])  # batch size 1, as the edge node runs it
    score_diff, _ = parity(fitted.detector, model_bytes, batches, tolerance=config.parity_tolerance)
    report("parity", 1, 1)
    stage_done("parity")

    created = datetime.now(UTC)
    spec = cast("Backbone | OnnxBackbone", backbone).spec
    head = fitted.detector.head
    metadata = ModelMetadata(
        model_id=config.model_id or _model_id(root, created),
        created_at=created,
        method=METHOD,
        backbone=spec.name,
        model_sha256=sha256_hex(model_bytes),
        input=InputSpec(width=size, height=size, colour_order="RGB", mean=spec.mean, std=spec.std),
        threshold=threshold,
        regions=RegionSpec(pixel_threshold=fitted.region_level, validation_good_count=len(holdout_paths)),
        outputs=OutputSpec(region_features=OUTPUT_NAMES[2] if classes else None),
        class_names=known_names(classes),
        defect_classes=classes,
        score_normalisation=ScoreNormalisation(
            description=(
                f"graph output = {_FUSED[head.fusion]}"
                + (
                    f"; image score {head.score_weight:g} * max z_local + z_global"
                    if head.score_weight is not None
                    else ""
                )
                + ", "
                "each branch standardised on the held-out good images "
                f"(local map max: mean {fitted.local_norm[0]:.4g}, std {fitted.local_norm[1]:.4g}; "
                f"global distance: mean {fitted.global_norm[0]:.4g}, std {fitted.global_norm[1]:.4g})"
                + (f"; {fitted.local_weight.note}" if fitted.local_weight else "")
                + (f"; {fitted.prototypes.note}" if fitted.prototypes else "")
            )
        ),
        training_data=TrainingDataSpec(
            sha256=dataset_digest(
                root,
                [*dataset.train_good, *(i.path for i in (*dataset.train_defects, *dataset.validation))],
            ),
            image_count=len(dataset.train_good) + len(dataset.train_defects) + len(dataset.validation),
            description=f"{len(fit_paths)} images fitted{_copies_note(config.nuisance_copies)}, "
            f"{holdout_note}"
            + (f"; defect classes from {len(dataset.train_defects)} labelled images" if classes else ""),
        ),
        evaluation=evaluation.model_copy(update={"parity_max_abs_diff": score_diff}),
        parameters={
            "backbone_layers": ",".join(map(str, getattr(backbone, "layers", ()))),
            "local_layers": ",".join(map(str, head.local_layers)),
            "global_layers": ",".join(map(str, head.global_layers)),
            "sigma": config.sigma,
            "fusion": config.fusion,
            "image_score": _image_score_kind(head),
            "defect_prototypes": head.proto_bias.numel() if head.prototypes else 0,
            "global_lowpass": config.global_lowpass if head.global_input is not None else 0.0,
            "global_step": head.global_input.step if head.global_input is not None else 1,
            "local_weight": fitted.local_weight.local if fitted.local_weight else 1.0,
            "local_neighbourhood": config.local_neighbourhood,
            "local_shrink_floor": config.local_shrink_floor,
            "local_grid_ridge": config.local_grid_ridge,
            "local_pool": config.local_pool,
            "local_position_norm": config.local_position_norm,
            "local_position_floor": config.local_position_floor,
            "max_rank": config.max_rank,
            "nuisance_copies": config.nuisance_copies,
            "holdout_fraction": config.holdout_fraction,
            "threshold_small_sample": config.threshold_small_sample,
        },
    )
    package = save_package(out, model_bytes=model_bytes, metadata=metadata, overwrite=overwrite)
    return TrainResult(package=package, fitted=fitted, seconds=time.perf_counter() - started)
