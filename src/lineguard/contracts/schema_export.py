"""Export the wire contracts as JSON Schema files (``docs/schemas/``).

``lineguard contracts export-schemas`` writes them; ``tests/unit/contracts`` fails when
the committed files differ from what the classes produce.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from lineguard.contracts.enterprise import PlantAggregates
from lineguard.contracts.events import (
    SCHEMA_VERSION,
    Alert,
    IngestBatch,
    InspectionEvent,
    NodeHeartbeat,
    WorkOrderTrigger,
)
from lineguard.contracts.evidence_view import EvidenceRefusal, EvidenceUpload, EvidenceViewRequests
from lineguard.contracts.ppe import PpeCounts
from lineguard.contracts.stages import StageResult

__all__ = ["WIRE_MESSAGES", "render_schemas", "write_schemas"]

WIRE_MESSAGES: tuple[type[BaseModel], ...] = (
    InspectionEvent,
    NodeHeartbeat,
    Alert,
    WorkOrderTrigger,
    IngestBatch,
    StageResult,
    PpeCounts,
    EvidenceViewRequests,
    EvidenceUpload,
    EvidenceRefusal,
    PlantAggregates,
)


def _file_name(model: type[BaseModel]) -> str:
    snake = "".join(f"-{c.lower()}" if c.isupper() else c for c in model.__name__).lstrip("-")
    return f"{snake}.v{SCHEMA_VERSION}.schema.json"


def render_schemas() -> dict[str, str]:
    """File name → JSON text, deterministic so the sync test can compare bytes."""
    out: dict[str, str] = {}
    for model in WIRE_MESSAGES:
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"urn:lineguard:contracts:{_file_name(model).removesuffix('.schema.json')}"
        out[_file_name(model)] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
