"""What goes into the plant-data store and what comes out: :class:`PlantRecordIn`, :class:`RecordBody`."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["FieldValue", "PlantRecordIn", "RecordBody", "UpsertResult"]

FieldValue = str | int | float | bool | None

#: Field names that fill the plaintext lookup columns (see :mod:`.models`).
PARTY_FIELDS = ("supplier", "customer", "party")
ASSET_FIELDS = ("machine", "asset")


class PlantRecordIn(BaseModel):
    """One record or document to store, with its label (category, lines) and its identity
    in its source (``source`` + ``source_key``: the same pair again is an update).

    ``lines``: ``None`` for the whole site, else the lines the record is about.
    ``fields``: the record's values (all sealed); ``part``, ``order``, ``supplier`` /
    ``customer``, ``machine``, ``lot`` become keyed lookup hashes, ``quantity`` and
    ``amount`` plaintext measures (``amount`` defaults to ``unit_price × quantity``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: str = Field(min_length=1, max_length=32)
    kind: Literal["record", "document"] = "record"
    source: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
    source_key: str = Field(min_length=1, max_length=200)
    record_type: str = Field(default="record", min_length=1, max_length=64)
    lines: tuple[str, ...] | None = None
    occurred_at: datetime | None = None
    title: str = Field(default="", max_length=500)
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    text: str = Field(default="", max_length=5_000_000)
    derived_from: tuple[str, ...] = ()

    @field_validator("lines")
    @classmethod
    def _lines(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        cleaned = tuple(sorted({v.strip() for v in value if v.strip()}))
        for line in cleaned:
            if len(line) > 64 or not line.replace("-", "").replace("_", "").replace(".", "").isalnum():
                msg = f"line {line!r}: use 1-64 letters, digits, '-', '_' or '.'"
                raise ValueError(msg)
        return cleaned or None

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            msg = "occurred_at needs a time zone (UTC)"
            raise ValueError(msg)
        return value

    @field_validator("fields")
    @classmethod
    def _finite(cls, value: dict[str, FieldValue]) -> dict[str, FieldValue]:
        for name, v in value.items():
            if isinstance(v, float) and not math.isfinite(v):
                msg = f"field {name!r} is {v}: numbers must be finite"
                raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _document_has_text(self) -> PlantRecordIn:
        if self.kind == "document" and not self.text.strip():
            msg = "a document needs text"
            raise ValueError(msg)
        return self

    def number(self, name: str) -> float | None:
        value = self.fields.get(name)
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, int | float):
            return float(value)
        try:
            return float(str(value).replace(",", ""))
        except ValueError:
            return None

    def text_field(self, *names: str) -> str | None:
        for name in names:
            value = self.fields.get(name)
            if value is not None and str(value).strip():
                return str(value).strip()
        return None

    def measures(self) -> tuple[float | None, float | None]:
        quantity = self.number("quantity")
        amount = self.number("amount")
        price = self.number("unit_price")
        if amount is None and price is not None and quantity is not None:
            amount = round(price * quantity, 6)
        return quantity, amount

    def dimensions(self) -> dict[str, str | None]:
        return {
            "part": self.text_field("part"),
            "order": self.text_field("order"),
            "party": self.text_field(*PARTY_FIELDS),
            "asset": self.text_field(*ASSET_FIELDS),
            "lot": self.text_field("lot"),
        }

    def body(self) -> dict[str, Any]:
        return {"title": self.title, "fields": dict(self.fields), "text": self.text}


class RecordBody(BaseModel):
    """A record opened for someone allowed to read it."""

    model_config = ConfigDict(frozen=True)

    record_id: str
    category: str
    kind: str
    record_type: str
    source: str
    source_key: str
    lines: tuple[str, ...] | None
    occurred_at: datetime | None
    title: str
    fields: dict[str, FieldValue]
    text: str


class UpsertResult(BaseModel):
    """What one :func:`~lineguard.server.plantdata.upsert_records` call did, by record id."""

    inserted: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    #: Re-imported with a wider scope than stored: kept at the narrower one (a subset of updated/unchanged).
    kept_narrower: list[str] = Field(default_factory=list)
