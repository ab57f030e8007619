"""Named defect classes: which known defect type a region looks like, or "unknown anomaly".

A plant usually has a few labelled examples of some defect types (``train/<defect>``
folders). The detector already computes, at every cell of its stride-8 grid, how the
local features deviate from the good parts seen at that position; the graph exports
that deviation as a third output, ``region_features`` [N, C, h, w]. A region (a
connected area of the anomaly map standing out from it, see ``regions``) is described by the
coverage-weighted mean of those deviations over the cells it covers, scaled to unit
length (:func:`region_vector`), so the size and strength of a defect matter less than
its kind.

Each class is a prototype (the mean of its examples' vectors). A region takes the
class of the nearest prototype under one shared, Ledoit–Wolf shrunk covariance when
that distance is within the calibrated ``cutoff``; otherwise it is
:data:`UNKNOWN_CLASS` (open set: a defect type nobody labelled is not forced into one
that somebody did). Fitting lives in ``classfit`` (training side); this module needs
only numpy and OpenCV and runs on the edge node.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lineguard.contracts.errors import InputError, ModelError
from lineguard.contracts.fields import DefectClass
from lineguard.vision.regions import class_mask

__all__ = [
    "ANOMALY_CLASS",
    "UNKNOWN_CLASS",
    "DefectClassesSpec",
    "DefectClassifier",
    "class_name_of_folder",
    "known_names",
    "main_region_mask",
    "region_vector",
]

#: What every region is called by a model without classes.
ANOMALY_CLASS = "anomaly"
#: What a region unlike every labelled type is called by a model with classes.
UNKNOWN_CLASS = "unknown_anomaly"
#: Classes a package may carry (prototypes are stored in metadata.json).
MAX_CLASSES = 64


def class_name_of_folder(folder: str) -> str:
    """A ``train/<defect>`` folder name as a defect class, or a clear error.

    Upper case is folded (``Blowhole`` → ``blowhole``); anything else the event contract
    does not accept (spaces, accents, leading punctuation) is refused, naming the folder,
    rather than silently renamed.
    """
    name = folder.lower()
    try:
        from pydantic import TypeAdapter

        TypeAdapter(DefectClass).validate_python(name)
    except ValueError as exc:
        msg = (
            f"defect folder {folder!r} is not a usable class name: use lower-case letters, digits, "
            "'_' and '-' (at most 64, starting with a letter or digit)"
        )
        raise InputError(msg) from exc
    if name in {ANOMALY_CLASS, UNKNOWN_CLASS, "good"}:
        msg = f"defect folder {folder!r} uses a reserved class name ({ANOMALY_CLASS}, {UNKNOWN_CLASS}, good)"
        raise InputError(msg)
    return name


class DefectClassesSpec(BaseModel):
    """The classes a package carries: prototypes, the shared metric and the unknown cut-off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    names: list[DefectClass] = Field(min_length=1, max_length=MAX_CLASSES)
    prototypes: list[list[float]] = Field(description="One unit-scale mean region vector per class.")
    precision: list[list[float]] | None = Field(
        default=None, description="Shared inverse covariance (full); None when ``inv_var`` is used."
    )
    inv_var: list[float] | None = Field(default=None, description="Diagonal inverse variances.")
    cutoff: float = Field(gt=0, description="Distance beyond which a region is 'unknown_anomaly'.")
    cutoff_method: str = Field(max_length=300, description="How the cut-off was chosen.")
    examples: dict[str, int] = Field(description="Labelled images per class the prototypes came from.")
    output: str = Field(default="region_features", description="Graph output with the region features.")

    @field_validator("names")
    @classmethod
    def _distinct(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names) or {ANOMALY_CLASS, UNKNOWN_CLASS} & set(names):
            msg = f"class names must be distinct and not reserved, got {names}"
            raise ValueError(msg)
        return names

    @model_validator(mode="after")
    def _shapes(self) -> DefectClassesSpec:
        dims = {len(p) for p in self.prototypes}
        if len(self.prototypes) != len(self.names) or len(dims) != 1:
            msg = "one prototype per class, all of the same length"
            raise ValueError(msg)
        dim = dims.pop()
        if (self.precision is None) == (self.inv_var is None):
            msg = "exactly one of precision and inv_var"
            raise ValueError(msg)
        if self.precision is not None and (
            len(self.precision) != dim or any(len(r) != dim for r in self.precision)
        ):
            msg = f"precision must be {dim}x{dim}"
            raise ValueError(msg)
        if self.inv_var is not None and len(self.inv_var) != dim:
            msg = f"inv_var must have {dim} values"
            raise ValueError(msg)
        return self


def region_vector(
    features: npt.NDArray[np.floating], mask: npt.NDArray[np.bool_] | npt.NDArray[np.floating]
) -> npt.NDArray[np.float64]:
    """Coverage-weighted mean of ``features`` [C, h, w] over ``mask`` [H, W] (map resolution), unit length.

    The mask is area-averaged onto the feature grid, so a cell counts by the share of it
    the region covers. An empty mask is an error: a region always covers something.
    """
    feats = np.asarray(features, dtype=np.float64)
    if feats.ndim != 3:
        msg = f"region features must be CxHxW, got shape {feats.shape}"
        raise InputError(msg)
    m = np.asarray(mask, dtype=np.float32)
    if m.ndim != 2 or not m.any():
        msg = f"region mask must be a non-empty HxW array, got shape {m.shape}"
        raise InputError(msg)
    _, h, w = feats.shape
    weights = cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA).astype(np.float64)
    if weights.sum() <= 0:  # a region thinner than a cell: the cell under its first pixel
        ys, xs = np.nonzero(m)
        weights[min(h - 1, ys[0] * h // m.shape[0]), min(w - 1, xs[0] * w // m.shape[1])] = 1.0
    vec = (feats * weights).sum((1, 2)) / weights.sum()
    norm = float(np.linalg.norm(vec))
    out: npt.NDArray[np.float64] = vec / norm if norm > 0 else vec
    return out


def main_region_mask(
    anomaly_map: npt.NDArray[np.floating], pixel_threshold: float = 0.0
) -> npt.NDArray[np.bool_]:
    """The region of a labelled defect image that its class is learnt from: the class
    mask of the map's main region (:func:`~lineguard.vision.regions.class_mask`), which
    is what the edge node reads a region's class from."""
    return class_mask(anomaly_map, pixel_threshold=pixel_threshold)


class DefectClassifier:
    """Nearest prototype with a cut-off, from a package's :class:`DefectClassesSpec`."""

    def __init__(self, spec: DefectClassesSpec) -> None:
        self.spec = spec
        self.names = tuple(spec.names)
        self._protos = np.asarray(spec.prototypes, dtype=np.float64)
        self._precision = None if spec.precision is None else np.asarray(spec.precision, dtype=np.float64)
        self._inv_var = None if spec.inv_var is None else np.asarray(spec.inv_var, dtype=np.float64)

    @property
    def dim(self) -> int:
        return int(self._protos.shape[1])

    def distances(self, vectors: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        """[n, C] region vectors → [n, K] distances to each class prototype."""
        x = np.asarray(vectors, dtype=np.float64)
        if x.ndim == 1:
            x = x[None]
        if x.shape[-1] != self.dim:
            msg = f"region vectors have {x.shape[-1]} features, the package's classes {self.dim}"
            raise ModelError(msg)
        d = x[:, None, :] - self._protos[None]
        if self._inv_var is not None:
            d2 = (d * d * self._inv_var).sum(-1)
        else:
            d2 = ((d @ np.asarray(self._precision)) * d).sum(-1)
        out: npt.NDArray[np.float64] = np.sqrt(np.maximum(d2, 0.0))
        return out

    def assign(self, vectors: npt.NDArray[np.floating]) -> list[str]:
        """Class name per vector: the nearest prototype within the cut-off, else 'unknown_anomaly'."""
        dist = self.distances(vectors)
        nearest = dist.argmin(1)
        return [
            self.names[k] if dist[i, k] <= self.spec.cutoff else UNKNOWN_CLASS for i, k in enumerate(nearest)
        ]

    def check_name(self, name: str) -> str:
        """``name`` if regions of this package can carry it, else an error listing the package's classes."""
        if name in self.names or name == UNKNOWN_CLASS:
            return name
        msg = (
            f"defect class {name!r} is not in this model package; it knows "
            f"{', '.join(self.names)} (and {UNKNOWN_CLASS!r} for anything unlike them)"
        )
        raise InputError(msg)


def known_names(spec: DefectClassesSpec | None) -> Sequence[str]:
    """Every class a region of a package can carry, in the order the package lists them."""
    return [ANOMALY_CLASS] if spec is None else [*spec.names, UNKNOWN_CLASS]
