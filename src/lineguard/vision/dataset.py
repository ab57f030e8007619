"""Reading a dataset folder in the MVTec AD layout, with errors that name the file.

::

    DIR/train/good/*.png|jpg          defect-free images to learn from (required)
    DIR/train/<defect>/*              optional: a few labelled defects per type → named classes
    DIR/validation/good/*             optional: held-out good images for calibration
    DIR/validation/<defect>/*         optional: labelled defects for calibration
    DIR/test/good/*                   evaluation: good images
    DIR/test/<defect>/*               evaluation: defective images, one folder per type
    DIR/ground_truth/<defect>/<stem>_mask.png   optional pixel masks (white = defect)

Every file in an image folder must be an image: anything else is an error, never
skipped, so a model is trained on exactly the data it was given. Hidden files
(``.DS_Store``, ``._x.png``) are the only ones ignored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from lineguard.contracts.errors import DatasetError
from lineguard.vision.preprocess import IMAGE_SUFFIXES

__all__ = ["GOOD", "Dataset", "LabelledImage", "dataset_digest", "list_images", "scan_dataset"]

GOOD = "good"


@dataclass(frozen=True, slots=True)
class LabelledImage:
    path: Path
    #: "good" or the defect type (the folder name).
    label: str
    mask: Path | None = None

    @property
    def is_defect(self) -> bool:
        return self.label != GOOD


@dataclass(frozen=True, slots=True)
class Dataset:
    root: Path
    train_good: list[Path]
    #: Labelled defects in ``train/<defect>`` (named defect classes); empty when there are none.
    train_defects: list[LabelledImage] = field(default_factory=list)
    validation: list[LabelledImage] = field(default_factory=list)
    test: list[LabelledImage] = field(default_factory=list)

    @property
    def defect_types(self) -> list[str]:
        return sorted({i.label for i in self.test if i.is_defect})


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def list_images(folder: Path) -> list[Path]:
    """Sorted image files of ``folder``; a non-image file or a sub-folder is an error."""
    if not folder.is_dir():
        msg = f"{folder} is not a directory"
        raise DatasetError(msg)
    images: list[Path] = []
    for path in sorted(p for p in folder.iterdir() if _visible(p)):
        if path.is_dir():
            msg = f"{path}: unexpected sub-folder in an image folder"
            raise DatasetError(msg)
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            msg = f"{path}: not an image file (expected one of {', '.join(sorted(IMAGE_SUFFIXES))})"
            raise DatasetError(msg)
        images.append(path)
    return images


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p)) if folder.is_dir() else []


def _find_mask(root: Path, label: str, image: Path) -> Path | None:
    folder = root / "ground_truth" / label
    for name in (f"{image.stem}_mask.png", f"{image.stem}.png"):
        if (folder / name).is_file():
            return folder / name
    return None


def _labelled(root: Path, split: str) -> list[LabelledImage]:
    items: list[LabelledImage] = []
    for folder in _subdirs(root / split):
        label = folder.name
        for path in list_images(folder):
            mask = None if label == GOOD else _find_mask(root, label, path)
            items.append(LabelledImage(path=path, label=label, mask=mask))
    return items


def _describe(folder: Path) -> str:
    names = [p.name + ("/" if p.is_dir() else "") for p in sorted(folder.iterdir()) if _visible(p)][:10]
    return ", ".join(names) if names else "nothing"


def scan_dataset(root: Path | str, *, require_train: bool = True, require_test: bool = False) -> Dataset:
    """Check the layout of ``root`` and list its images (no image is decoded here)."""
    root = Path(root)
    if not root.is_dir():
        msg = f"dataset folder {root} does not exist or is not a directory"
        raise DatasetError(msg)
    train_dir = root / "train" / GOOD
    train_good: list[Path] = []
    if require_train:
        if not train_dir.is_dir():
            where = root / "train" if (root / "train").is_dir() else root
            msg = (
                f"{train_dir} not found: training needs defect-free images in train/good "
                f"(MVTec AD layout); {where} holds {_describe(where)}"
            )
            raise DatasetError(msg)
        train_good = list_images(train_dir)
        if not train_good:
            msg = f"{train_dir} holds no images: nothing to learn from"
            raise DatasetError(msg)
    test = _labelled(root, "test")
    if require_test:
        if not (root / "test").is_dir():
            msg = f"{root / 'test'} not found: evaluation needs test/good and test/<defect> folders"
            raise DatasetError(msg)
        if not test:
            msg = f"{root / 'test'} holds no images (holds {_describe(root / 'test')})"
            raise DatasetError(msg)
        if not any(i.label == GOOD for i in test):
            msg = f"{root / 'test' / GOOD} not found or empty: evaluation needs good test images"
            raise DatasetError(msg)
    train_defects = [i for i in _labelled(root, "train") if i.is_defect] if require_train else []
    return Dataset(
        root=root,
        train_good=train_good,
        train_defects=train_defects,
        validation=_labelled(root, "validation"),
        test=test,
    )


def dataset_digest(root: Path, paths: list[Path]) -> str:
    """sha256 over the sorted (relative path, file sha256) list: names and contents both count."""
    outer = hashlib.sha256()
    for path in sorted(paths):
        inner = hashlib.sha256(path.read_bytes()).hexdigest()
        outer.update(f"{path.relative_to(root).as_posix()}\0{inner}\n".encode())
    return outer.hexdigest()
