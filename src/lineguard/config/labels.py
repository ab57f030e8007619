"""Configuration of a label-verification stage: where the label is, how to read it, what it must say.

The *expected* label of each order (or part type) is a row of :class:`ExpectedLabel` in the
stage's ``expected`` table, keyed by the order id the line is running; a MES or ERP hook
may supply the same rows instead (``lineguard.edge.labels.ExpectedLabelSource``). A field
left out of a row is not checked; a row with no field at all is refused, because an empty
expectation would pass any label.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lineguard.contracts.fields import Name

__all__ = [
    "CODE_FORMATS",
    "DEFAULT_TEXT_PATTERNS",
    "CodeFormat",
    "ExpectedLabel",
    "LabelField",
    "LabelRegion",
    "LabelStageConfig",
    "canonical",
    "gtin_check_digit",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LabelField(enum.StrEnum):
    """The fields a label check compares (the ``subject`` of a failure reason)."""

    PART_NUMBER = "part_number"
    GTIN = "gtin"
    LOT = "lot"
    DATE = "date"
    QUANTITY = "quantity"


#: Formats a stage may read (zxing-cpp names).
CodeFormat = Literal["DataMatrix", "QRCode", "Code128", "EAN13", "EAN8"]
CODE_FORMATS: tuple[CodeFormat, ...] = ("DataMatrix", "QRCode", "Code128", "EAN13", "EAN8")


def _default_formats() -> list[CodeFormat]:
    return ["DataMatrix", "Code128"]


#: Where each field sits in the printed text: a regex whose group 1 is the value. Matched
#: against each OCR line in upper case. Values are compared without spaces, hyphens, dots
#: and slashes (:func:`canonical`): a print defect through a hyphen must not fail a label.
DEFAULT_TEXT_PATTERNS: dict[LabelField, str] = {
    # Keywords accept the OCR's usual confusions (O/0/Q, I/1/T, Y/V, E/F/3); values never do.
    LabelField.PART_NUMBER: r"^P\s*[/I1L|]?\s*N\W*([A-Z0-9][A-Z0-9 -]*)$",
    LabelField.LOT: r"^L[O0Q][T1I]\W*([A-Z0-9][A-Z0-9 -]*)$",
    LabelField.DATE: r"^(?:D[A4][T1I][E3F]|PROD|MFG|EXP)\W*(\d{4}\W*\d{2}\W*\d{2})$",
    LabelField.QUANTITY: r"^[QO0][T1I][YV]\W*(\d[\d ]*)$",
}


def gtin_check_digit(body: str) -> int:
    """GS1 mod-10 check digit of the digits before it (weights 3, 1, 3, … from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def canonical(value: str) -> str:
    """A field value as compared: upper case, without spaces, hyphens, dots and slashes."""
    return re.sub(r"[\s\-./]", "", value.upper())


class LabelRegion(_Section):
    """The label's region in full-frame pixels (the stage reads nothing outside it)."""

    x: int = Field(default=0, ge=0, le=100_000)
    y: int = Field(default=0, ge=0, le=100_000)
    width: int = Field(gt=0, le=100_000)
    height: int = Field(gt=0, le=100_000)


class ExpectedLabel(_Section):
    """What the label of one order says; a field left out is not checked."""

    part_number: str | None = Field(
        default=None, min_length=1, max_length=40, pattern=r"^[A-Z0-9][A-Z0-9-]*$"
    )
    gtin: str | None = Field(
        default=None, pattern=r"^\d{14}$", description="GTIN-14 (AI 01), check digit included."
    )
    lot: str | None = Field(default=None, min_length=1, max_length=20, pattern=r"^[A-Z0-9][A-Z0-9-]*$")
    date: dt.date | None = Field(default=None, description="The label's date (AI given by date_ai).")
    date_ai: Literal["11", "17"] = Field(default="11", description="11: production date, 17: expiry date.")
    quantity: int | None = Field(default=None, ge=0, le=99_999_999)

    @field_validator("gtin")
    @classmethod
    def _gtin_check_digit(cls, value: str | None) -> str | None:
        if value is not None:
            want = gtin_check_digit(value[:-1])
            if int(value[-1]) != want:
                msg = f"GTIN {value}: check digit is {value[-1]}, but the digits before it give {want}"
                raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _checks_something(self) -> ExpectedLabel:
        if not self.checked_fields():
            msg = "an expected label with no field would accept any label: give at least one"
            raise ValueError(msg)
        return self

    def checked_fields(self) -> list[LabelField]:
        return [f for f in LabelField if getattr(self, f.value) is not None]

    def text_value(self, field: LabelField) -> str | None:
        """The field as the label prints it (dates ISO, quantity in digits)."""
        value = getattr(self, field.value)
        if value is None:
            return None
        return value.isoformat() if isinstance(value, dt.date) else str(value)


class LabelStageConfig(_Section):
    """A camera's label check (``cameras[].stages``, ``kind: label``): where, how, and what it must say."""

    kind: Literal["label"]
    name: Name = Field(
        title="Stage name", description="Unique per camera; results and part verdicts carry it."
    )
    region: LabelRegion | None = Field(
        default=None, description="The label's region in full-frame pixels; none: the camera's ROI."
    )
    order: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="The order the line runs now: its row of expected is the label to find.",
    )
    code_formats: list[CodeFormat] = Field(
        default_factory=_default_formats,
        min_length=1,
        description="Symbologies read in the region; a code of another format does not count.",
    )
    code_required: bool = Field(
        default=True, description="Read the label's code; a label without a readable one fails (unreadable)."
    )
    text_fields: list[LabelField] = Field(
        default_factory=lambda: [LabelField.PART_NUMBER],
        description=(
            "Fields the printed text must show and match (OCR). Fields the code also carries are "
            "compared in both, so a label whose text and code disagree fails."
        ),
    )
    text_patterns: dict[LabelField, str] = Field(
        default_factory=lambda: dict(DEFAULT_TEXT_PATTERNS),
        description="Regex (group 1 = value) locating each field in an OCR line, upper case.",
    )
    expected: dict[str, ExpectedLabel] = Field(
        default_factory=dict,
        max_length=10_000,
        description="Expected label per order id (the table; a MES/ERP hook may answer instead).",
    )

    @field_validator("text_patterns")
    @classmethod
    def _patterns_compile(cls, value: dict[LabelField, str]) -> dict[LabelField, str]:
        for field, pattern in value.items():
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                msg = f"text_patterns.{field.value}: {exc}"
                raise ValueError(msg) from exc
            if compiled.groups < 1:
                msg = f"text_patterns.{field.value}: needs a group (the value)"
                raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _text_fields_have_patterns(self) -> LabelStageConfig:
        missing = [f.value for f in self.text_fields if f not in self.text_patterns]
        if missing:
            msg = f"text_fields without a text_patterns entry: {', '.join(missing)}"
            raise ValueError(msg)
        if not self.code_required and not self.text_fields:
            msg = "the stage reads neither a code nor text: set code_required or text_fields"
            raise ValueError(msg)
        return self
