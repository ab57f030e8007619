"""Inspection stages beyond the anomaly model: what they report (schema version 1).

A camera runs its anomaly model on every frame and, optionally, a list of *stages*
(``edge.yaml``: ``cameras[].stages``) on each part it closes: dimensional gauging,
label verification, … Each stage run becomes one :class:`StageResult` — its verdict,
the reasons it did not pass, the measurements it took (value, uncertainty and limits)
and the inputs it ran with (a calibration, a spec, each by version and digest) — and
the part's :class:`~lineguard.contracts.events.PartVerdict` lists every stage's verdict
(:class:`PartStageVerdict`) and is the worst of them and the model's.

Like every wire message these carry metadata only. Reason messages say *which*
characteristic or field is wrong and by how much, never free plant text.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from lineguard.contracts.fields import (
    SCHEMA_VERSION,
    FiniteFloat,
    Name,
    OpaqueId,
    Sha256Hex,
    UtcDatetime,
    Verdict,
    WireMessage,
)

__all__ = [
    "MAINTENANCE_RECOMMENDED",
    "MAX_FRAMES_PER_RESULT",
    "MAX_MEASUREMENTS_PER_RESULT",
    "MAX_STAGES_PER_PART",
    "Characteristic",
    "Measurement",
    "PartStageVerdict",
    "ReasonCode",
    "StageInput",
    "StageKind",
    "StageReason",
    "StageResult",
    "worst_verdict",
]

MAX_MEASUREMENTS_PER_RESULT = 64
#: Most frames one stage result may say it rests on (the node keeps at most 8 views a part).
MAX_FRAMES_PER_RESULT = 16
MAX_STAGES_PER_PART = 16
#: The reason a thermal stage gives when an asset's trend crossed its limit; the server puts
#: such a result under review as a maintenance recommendation (``thermal_maintenance``).
MAINTENANCE_RECOMMENDED = "maintenance_recommended"

#: A measured characteristic or checked field, e.g. ``hole_a_diameter``, ``lot``.
Characteristic = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
#: Why a stage did not pass, e.g. ``out_of_tolerance``, ``feature_missing``, ``mismatch``.
ReasonCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
#: Unit of a measurement: ``mm``, ``deg``, ``degC``, ``px``, ``count``…
Unit = Annotated[str, Field(pattern=r"^[A-Za-z%][A-Za-z0-9%/_]{0,15}$")]


class StageKind(enum.StrEnum):
    """What kind of check a stage is (one module per kind under ``lineguard.edge``)."""

    GAUGING = "gauging"
    LABEL = "label"
    THERMAL = "thermal"


class StageInput(WireMessage):
    """A file a stage ran with (a calibration, a measurement spec), by version and digest."""

    name: Characteristic = Field(description="What the input is: 'calibration', 'spec', …")
    version: int = Field(ge=1, le=2**31 - 1)
    sha256: Sha256Hex


class StageReason(WireMessage):
    """One reason a stage did not pass: the characteristic or field, and what was wrong."""

    code: ReasonCode
    subject: Characteristic = Field(description="The characteristic or field the reason is about.")
    message: str = Field(max_length=300, description="Human-readable; no free plant text.")


class Measurement(WireMessage):
    """One measured value with its uncertainty and (where toleranced) its limits."""

    characteristic: Characteristic
    value: FiniteFloat
    uncertainty: FiniteFloat = Field(
        ge=0, description="Expanded uncertainty (k=2, about 95 %) of value, in the same unit."
    )
    unit: Unit
    nominal: FiniteFloat | None = None
    lower_limit: FiniteFloat | None = Field(default=None, description="Lowest value in tolerance.")
    upper_limit: FiniteFloat | None = Field(default=None, description="Highest value in tolerance.")
    in_tolerance: bool = True

    @model_validator(mode="after")
    def _limits_ordered(self) -> Measurement:
        low, high = self.lower_limit, self.upper_limit
        if low is not None and high is not None and low > high:
            msg = f"lower_limit {self.lower_limit} is above upper_limit {self.upper_limit}"
            raise ValueError(msg)
        return self


class StageResult(WireMessage):
    """What one stage found on one part (or frame) at one camera."""

    schema_version: Literal[1] = SCHEMA_VERSION
    result_id: OpaqueId
    idempotency_key: OpaqueId
    node_id: Name
    site_id: Name
    line_id: Name
    station_id: Name
    camera_id: Name
    stage: Name = Field(description="The stage's name in edge.yaml (unique per camera).")
    kind: StageKind
    part_verdict_id: OpaqueId | None = Field(
        default=None, description="The part verdict this result fed; None for a stage that judges no part."
    )
    frame_id: int = Field(ge=0, description="The part's decisive frame (the one the stage was given first).")
    frame_ids: list[Annotated[int, Field(ge=0)]] = Field(
        default_factory=list,
        max_length=MAX_FRAMES_PER_RESULT,
        description=(
            "Every frame the result rests on, in the order the stage used them (gauging: most centred "
            "first, lengths averaged over them); empty: frame_id alone (results from before, and "
            "stages that judge one frame)."
        ),
    )
    captured_at: UtcDatetime
    verdict: Verdict
    reasons: list[StageReason] = Field(default_factory=list, max_length=32)
    measurements: list[Measurement] = Field(default_factory=list, max_length=MAX_MEASUREMENTS_PER_RESULT)
    inputs: list[StageInput] = Field(default_factory=list, max_length=8)
    latency_ms: FiniteFloat = Field(ge=0, description="Time the stage took on the frame.")

    @model_validator(mode="after")
    def _failures_say_why(self) -> StageResult:
        if self.verdict is not Verdict.PASS and not self.reasons:
            msg = f"a stage verdict {self.verdict.value!r} needs at least one reason"
            raise ValueError(msg)
        repeated = sorted({f for f in self.frame_ids if self.frame_ids.count(f) > 1})
        if repeated:
            msg = f"frame_ids name frame(s) {repeated} more than once"
            raise ValueError(msg)
        return self

    @property
    def contributing_frames(self) -> list[int]:
        """The frames the result rests on: ``frame_ids``, or ``frame_id`` alone when it is empty."""
        return list(self.frame_ids) or [self.frame_id]


class PartStageVerdict(WireMessage):
    """One stage's say in a part's verdict (its :class:`StageResult` has the detail)."""

    stage: Name
    kind: StageKind
    verdict: Verdict
    result_id: OpaqueId


_SEVERITY = {Verdict.PASS: 0, Verdict.UNCERTAIN: 1, Verdict.FAIL: 2}


def worst_verdict(*verdicts: Verdict) -> Verdict:
    """The part's verdict from the model's and the stages': any fail fails, else any doubt."""
    return max(verdicts, key=_SEVERITY.__getitem__, default=Verdict.PASS)
