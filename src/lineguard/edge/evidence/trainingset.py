"""A few-shot training set from review decisions, assembled on the node: images never leave it.

The server's label export (``GET /api/v1/reviews/{alert,part_verdict}/labels``,
docs/review.md) says what people decided — this event was a defect of class X, that one
a false call — but carries no image: the evidence stays encrypted on the node that
captured it. Training wants images laid out as a dataset (``train/good``,
``validation/<defect>``, docs/detection.md). :func:`assemble` joins the two on the node:
for each reviewed event it finds the event's evidence in the node's store, verifies it
(signature and hash, as ``lineguard edge evidence verify``), cuts out the camera's ROI —
the model's view of the frame — and writes it where training picks it up:

* a confirmed fail (``confirmed`` of a fail verdict, ``confirmed_defect``,
  ``other_class``) → ``validation/<class>/``: the labelled defects that choose the
  few-shot fusion and calibrate the threshold (``vision.fewshot``);
* a good part (``false_call``, or a confirmed pass) → ``train/good/``: a good part the
  model found unusual, now part of what good looks like.

Only what is sure to be the model's view goes in; everything else is skipped with its
reason (:class:`Skipped`): no evidence on this node (retention, another node, a pass not
sampled), evidence that keeps only part of the ROI (``evidence.crop: defects``, evidence
stored before regions were recorded), evidence in which privacy redaction hid
something (a masked person would be learnt as part of the part), a label without a
verdict to learn (an uncertain part confirmed as uncertain), evidence that fails
verification. The evidence is a JPEG (``evidence.jpeg_quality``) of the redacted frame,
so its pixels are close to, not exactly, what the model saw; the file is written as PNG
so nothing is lost twice. A file already in place is left alone (re-running on a newer
export adds only the new decisions).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
from pydantic import BaseModel, ConfigDict, ValidationError

from lineguard.config.edge import Roi
from lineguard.contracts.errors import InputError, LineGuardError
from lineguard.contracts.events import BoundingBox
from lineguard.contracts.fields import DefectClass
from lineguard.edge.evidence.store import EvidenceRecord, EvidenceStore

__all__ = ["DEFECT_FALLBACK_CLASS", "AssembledSet", "ReviewLabel", "Skipped", "assemble", "read_labels"]

#: Folder of a confirmed fail whose verdict names no class (a package without named classes).
DEFECT_FALLBACK_CLASS = "defect"
_GOOD = "good"


class ReviewLabel(BaseModel):
    """What :func:`assemble` reads of one entry of the server's label export (others ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    review_id: str
    event_id: str | None
    camera_id: str | None
    label: str | None
    ai_verdict: str | None = None
    #: Class names become folder names: the event contract's pattern (no path, no dots) is enforced.
    ai_defect_class: DefectClass | None = None
    human_verdict: str | None = None
    human_defect_class: DefectClass | None = None


def read_labels(path: Path) -> list[ReviewLabel]:
    """The entries of a label export file (a JSON list, as the server's route returns it)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        msg = f"cannot read the label export {path}: {exc.strerror}"
        raise InputError(msg) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"{path} is not a label export (JSON): {exc}"
        raise InputError(msg) from None
    if not isinstance(raw, list):
        msg = f"{path} is not a label export: expected a JSON list of labels, got {type(raw).__name__}"
        raise InputError(msg)
    labels = []
    for n, entry in enumerate(raw):
        try:
            labels.append(ReviewLabel.model_validate(entry))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "entry"
            msg = f"{path}: label {n} is not a review label ({where}: {first['msg']})"
            raise InputError(msg) from None
    return labels


@dataclass(frozen=True, slots=True)
class Skipped:
    review_id: str
    event_id: str | None
    reason: str


@dataclass(slots=True)
class AssembledSet:
    """What :func:`assemble` wrote (per dataset folder) and what it left out, with reasons."""

    root: Path
    written: Counter[str] = field(default_factory=Counter)
    already_there: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def reasons(self) -> Counter[str]:
        return Counter(s.reason for s in self.skipped)


def _folder(label: ReviewLabel) -> str | None:
    """Dataset folder of a reviewed verdict (``train/good``, ``validation/<class>``), or None."""
    verdict = label.human_verdict or (label.ai_verdict if label.label == "confirmed" else None)
    if verdict == "pass":
        return f"train/{_GOOD}"
    name = label.human_defect_class or label.ai_defect_class or DEFECT_FALLBACK_CLASS
    if verdict == "fail" and name != _GOOD:  # validation/good would make a defect a held-out good image
        return f"validation/{name}"
    return None


def _roi_inside(record: EvidenceRecord, roi: BoundingBox | None) -> tuple[int, int, int, int] | str:
    """(x0, y0, x1, y1) of the camera's ROI in the stored image's pixels, or why it is not all there."""
    region = record.region_box
    if region is None:
        return "evidence stored before regions were recorded: where the ROI lies in it is unknown"
    if roi is None:  # the model saw the whole frame: only a whole-frame image holds it
        roi = BoundingBox(x=0, y=0, width=region.x + region.width, height=region.y + region.height)
    x0, y0 = roi.x - region.x, roi.y - region.y
    x1, y1 = x0 + roi.width, y0 + roi.height
    if x0 < 0 or y0 < 0 or x1 > region.width or y1 > region.height:
        return "evidence keeps only part of the model's view (crop: defects, or an ROI past the frame)"
    return x0, y0, x1, y1


def _redacted_count(record: EvidenceRecord) -> int:
    """How many areas privacy redaction hid (the record's ``mode:model:count``); unknown counts as some."""
    tail = record.redaction.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 1


def assemble(
    store: EvidenceStore,
    labels: Sequence[ReviewLabel],
    rois: Mapping[str, Roi | None],
    out: Path,
) -> AssembledSet:
    """Write each reviewed event's ROI from the node's evidence under ``out`` (see the module docstring).

    ``rois`` maps this node's camera ids to their ROI (None: the whole frame); a label of
    a camera not in it is skipped.
    """
    result = AssembledSet(out)
    by_event: dict[str, list[EvidenceRecord]] = {}
    for record in store.records():
        by_event.setdefault(record.event_id, []).append(record)

    def skip(label: ReviewLabel, reason: str) -> None:
        result.skipped.append(Skipped(label.review_id, label.event_id, reason))

    for label in labels:
        folder = _folder(label)
        if folder is None:
            skip(label, "no pass or fail verdict to learn from (or a fail named 'good')")
            continue
        if label.event_id is None or label.camera_id is None:
            skip(label, "the label names no event and camera")
            continue
        if label.camera_id not in rois:
            skip(label, "camera not on this node")
            continue
        records = [r for r in by_event.get(label.event_id, []) if r.camera_id == label.camera_id]
        if not records:
            skip(label, "no evidence of this event on this node")
            continue
        roi = rois[label.camera_id]
        roi_box = None if roi is None else BoundingBox(x=roi.x, y=roi.y, width=roi.width, height=roi.height)
        for record in records:
            reason = _write(store, record, roi_box, out / folder, result)
            if reason is not None:
                skip(label, reason)
    return result


def _write(
    store: EvidenceStore, record: EvidenceRecord, roi: BoundingBox | None, folder: Path, result: AssembledSet
) -> str | None:
    """Write one evidence object's ROI into ``folder``; the reason it was not written, if any."""
    target = folder / f"{record.event_id}_{record.evidence_id}.png"
    if target.exists():
        result.already_there += 1
        return None
    if _redacted_count(record):
        return "privacy redaction hid part of the image"
    box = _roi_inside(record, roi)
    if isinstance(box, str):
        return box
    try:
        image = store.image(record.evidence_id)  # decrypts, checks the signature and the hash
    except LineGuardError as exc:
        return f"evidence failed verification ({type(exc).__name__})"
    x0, y0, x1, y1 = box
    folder.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(target), image[y0:y1, x0:x1]):
        msg = f"cannot write {target}"
        raise InputError(msg)
    result.written[str(folder.relative_to(result.root))] += 1
    return None
