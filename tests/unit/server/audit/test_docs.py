"""docs/audit-events.md documents every audit event and every field of it."""

from __future__ import annotations

import re
from pathlib import Path

from lineguard.contracts.audit import AUDIT_EVENTS

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
