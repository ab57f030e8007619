"""docs/audit-events.md documents every audit event and every field of it."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import ClassVar

import pytest

from lineguard.contracts.audit import AUDIT_EVENTS, AuditEvent
from lineguard.contracts.errors import InputError
from tests.support.audit_calls import checked_audit_call

DOC = Path(__file__).resolve().parents[4] / "docs" / "audit-events.md"


def _rows() -> dict[str, str]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| `([a-z_]+\.[a-z_]+)` \|(.*)$", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_every_audit_event_is_documented_with_its_fields() -> None:
    rows = _rows()
    missing = sorted(set(AUDIT_EVENTS) - set(rows))
    assert not missing, f"undocumented audit events (add a row to docs/audit-events.md): {missing}"
    for name, cls in AUDIT_EVENTS.items():
        for field in cls.model_fields:
            if field != "outcome":
                assert f"`{field}`" in rows[name], (
                    f"{name}: field {field!r} is not listed in docs/audit-events.md"
                )


def test_no_documented_event_is_stale() -> None:
    stale = sorted(set(_rows()) - set(AUDIT_EVENTS))
    assert not stale, f"docs/audit-events.md lists events that do not exist: {stale}"


def _holds_float(annotation: object) -> bool:
    if annotation is float:
        return True
    return any(_holds_float(arg) for arg in typing.get_args(annotation))


def test_no_audit_event_field_can_hold_a_float() -> None:
    # The chain is hashed over canonical JSON, which has no float form: a float field
    # passes every typed check and fails only when the real recorder encodes it
    # (a retire audit field was a float once; the tests' in-memory trails did not encode).
    floats = [
        f"{name}.{field}"
        for name, cls in AUDIT_EVENTS.items()
        for field, info in cls.model_fields.items()
        if _holds_float(info.annotation)
    ]
    assert floats == [], f"audit fields must be integers or strings, not floats: {floats}"


def test_the_test_trails_encode_like_the_recorder() -> None:
    class WithFloat(AuditEvent):
        event_name: ClassVar[str] = "test.with_float"
        ratio: float

    with pytest.raises(InputError, match="floats have no canonical form"):
        checked_audit_call(WithFloat(ratio=0.5), actor="system:test")
