"""docs/access-control.md lists every roll-up route with its rule and the roles that hold it."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from lineguard.config.enterprise import EnterpriseServiceConfig
from lineguard.enterprise import GRANTS, Permission, Role, create_enterprise_app, declared_routes

DOC = Path(__file__).resolve().parents[3] / "docs" / "access-control.md"
ROW = re.compile(r"^\| `(GET|POST|PUT|DELETE) (/api/v1/[^`]+)` \| `([a-z_.]+)`[^|]*\|(.*)\|$")


def _documented() -> dict[tuple[str, str], tuple[str, frozenset[Role]]]:
    rows = {}
    roles = list(Role)
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            method, path, rule, cells = match.groups()
            marks = [c.strip() for c in cells.split("|")]
            assert len(marks) == len(roles), line
            rows[(method, path)] = (rule, frozenset(r for r, m in zip(roles, marks, strict=True) if m == "✔"))
    return rows


def test_the_documented_roll_up_routes_are_the_routes_and_grants_in_code(tmp_path: Path) -> None:
    app = create_enterprise_app(EnterpriseServiceConfig(kind="enterprise", data_dir=tmp_path), sessionmaker())
    in_code = {}
    for route in declared_routes(app):
        if route.is_api:
            (rule,) = route.rules
            holders = (
                frozenset()
                if rule == "plant"
                else frozenset(r for r in Role if Permission(rule) in GRANTS[r])
            )
            for method in route.methods:
                in_code[(method, route.path)] = (rule, holders)
    assert _documented() == in_code
