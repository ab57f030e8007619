"""The AI scored against parts whose truth is known: part-level recall and false-reject rate.

A plant validating a model runs a golden set of parts it knows; the demo's synthetic line
knows which parts it made defective. Either writes a ground-truth file (the server config's
``dashboard.ground_truth_file``)::

    {"schema_version": 1, "source": "demo synthetic line (seed 7, 15 % defective)",
     "parts": {"part-000000": null, "part-000003": "scratch", ...}}

``parts`` maps each known part id to its defect class, or ``null`` for a good part.
:func:`score_parts` takes the part verdicts stored in a window (one per physical part, as
the node fused them), opens their part ids, and counts against the truth:

* **recall** — defective parts the AI failed; **recall_flagged** — failed or uncertain
  (a person looks at those);
* **false-reject rate** — good parts the AI failed; **review rate** — good parts uncertain;
* parts whose id the file does not know are counted apart (``unknown``), never guessed.

The file is read again when it changes (its modification time), so a demo or a validation
run can extend it while the server runs.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from pathlib import Path
from threading import Lock

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from lineguard.contracts.errors import InputError
from lineguard.server.context import Sealer
from lineguard.server.dashboard.schemas import TruthScore
from lineguard.server.dashboard.service import open_part_id
from lineguard.server.ingest import PartVerdictRow

__all__ = ["MAX_SCORED_PARTS", "GroundTruth", "load_ground_truth", "score_parts"]

#: Part verdicts scored per request (the newest in the window).
MAX_SCORED_PARTS = 20_000
MAX_FILE_BYTES = 16 * 1024 * 1024


class GroundTruth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = Field(ge=1, le=1)
    source: str = Field(min_length=1, max_length=200, description="Where the truth comes from.")
    parts: dict[str, str | None] = Field(description="Part id → defect class, or null for a good part.")


_cache: dict[Path, tuple[float, GroundTruth]] = {}
_lock = Lock()


def load_ground_truth(path: Path) -> GroundTruth:
    """The file at ``path``, parsed once per modification; :class:`InputError` saying what is wrong."""
    try:
        stat = path.stat()
    except OSError as error:
        msg = f"ground truth file {path} cannot be read: {error.strerror}"
        raise InputError(msg) from error
    if stat.st_size > MAX_FILE_BYTES:
        msg = f"ground truth file {path} is {stat.st_size} bytes; at most {MAX_FILE_BYTES}"
        raise InputError(msg)
    with _lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == stat.st_mtime:
            return cached[1]
    try:
        truth = GroundTruth.model_validate_json(path.read_bytes())
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        msg = f"ground truth file {path} is not valid: {where}: {first['msg']}"
        raise InputError(msg) from error
    with _lock:
        _cache[path] = (stat.st_mtime, truth)
    return truth


def score_parts(
    session: Session,
    *,
    truth: GroundTruth,
    site_id: str,
    lines: Collection[str] | None,
    sealer: Sealer,
    start: datetime,
    end: datetime,
) -> TruthScore:
    """The part verdicts first seen in ``[start, end)`` on the reader's lines, scored against ``truth``."""
    if start >= end:
        msg = f"start ({start.isoformat()}) must be before end ({end.isoformat()})"
        raise InputError(msg)
    p = PartVerdictRow
    stmt = (
        select(p.part_id_sealed, p.node_id, p.idempotency_key, p.verdict)
        .where(p.site_id == site_id, p.first_seen_at >= start, p.first_seen_at < end)
        .order_by(p.first_seen_at.desc())
        .limit(MAX_SCORED_PARTS)
    )
    if lines is not None:
        stmt = stmt.where(p.line_id.in_(sorted(lines)))
    counts = {"tp": 0, "flagged": 0, "bad": 0, "fr": 0, "review": 0, "good": 0, "unknown": 0}
    for sealed, node_id, key, verdict in session.execute(stmt):
        part_id = open_part_id(sealer, sealed, node_id=node_id, key=key, category="part_verdicts")
        if part_id is None or part_id not in truth.parts:
            counts["unknown"] += 1
        elif truth.parts[part_id] is not None:
            counts["bad"] += 1
            counts["tp"] += verdict == "fail"
            counts["flagged"] += verdict in {"fail", "uncertain"}
        else:
            counts["good"] += 1
            counts["fr"] += verdict == "fail"
            counts["review"] += verdict == "uncertain"

    def rate(n: int, of: int) -> float | None:
        return None if of == 0 else round(n / of, 4)

    return TruthScore(
        source=truth.source,
        start=start,
        end=end,
        defective_parts=counts["bad"],
        good_parts=counts["good"],
        unknown_parts=counts["unknown"],
        defective_failed=counts["tp"],
        defective_flagged=counts["flagged"],
        good_failed=counts["fr"],
        good_uncertain=counts["review"],
        recall=rate(counts["tp"], counts["bad"]),
        recall_flagged=rate(counts["flagged"], counts["bad"]),
        false_reject_rate=rate(counts["fr"], counts["good"]),
        review_rate=rate(counts["review"], counts["good"]),
    )
