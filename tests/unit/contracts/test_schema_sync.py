"""docs/schemas/ must be exactly what the contract classes export."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from lineguard.contracts.schema_export import render_schemas
from tests.unit.contracts.test_events import make_event

SCHEMAS = Path(__file__).resolve().parents[3] / "docs" / "schemas"


def test_committed_schemas_match_the_contracts() -> None:
    rendered = render_schemas()
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMAS.glob("*.schema.json")}
    assert sorted(committed) == sorted(rendered), "run: lineguard contracts export-schemas docs/schemas"
    for name, text in rendered.items():
        assert committed[name] == text, (
            f"{name} is stale; run: lineguard contracts export-schemas docs/schemas"
        )


def test_exported_schema_validates_a_real_event_and_rejects_extras() -> None:
    schema = json.loads(render_schemas()["inspection-event.v1.schema.json"])
    jsonschema.validate(make_event(), schema)
    bad = make_event(image_bytes="AAAA")
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(bad))
    assert any("image_bytes" in e.message for e in errors)
