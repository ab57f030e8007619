"""What the documents cite exists: every test named as a DPIA control or a vendor answer's proof,
every configuration path a vendor answer quotes; and every notice language has every string."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from lineguard.contracts.errors import InputError
from lineguard.server.governance.catalog import LANGUAGES, catalog
from lineguard.server.governance.compose_technical import lookup
from lineguard.server.governance.controls import RISKS, VENDOR_ANSWERS

ROOT = Path(__file__).resolve().parents[4]
CITED = sorted({c.test for r in RISKS for c in r.controls} | {a.test for a in VENDOR_ANSWERS if a.test})


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


@pytest.mark.parametrize("node_id", CITED)
def test_every_cited_test_exists(node_id: str) -> None:
    path, _, name = node_id.partition("::")
    assert (ROOT / path).is_file(), f"{node_id}: no such test file"
    assert name in _test_names(ROOT / path), f"{node_id}: no such test in {path}"


def test_every_vendor_answer_is_backed_and_its_config_path_resolves() -> None:
    facts = {
        "security": {"database": "sqlite", "bind_host": "10.0.0.2", "min_tls_version": "1.3",
                     "keyring_backend": "file", "session_idle_minutes": 15, "tuf_root_threshold": 2},
        "retention": {"inspection_events_days": 365, "audit_log_days": 2555},
        "egress": [],
        "software_version": "0.1.0",
    }  # fmt: skip
    for answer in VENDOR_ANSWERS:
        assert answer.config or answer.test, f"{answer.question!r} is backed by nothing"
        if answer.config:
            lookup(facts, answer.config)


def test_every_language_has_every_string_with_the_same_placeholders() -> None:
    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    english = catalog("en").strings
    for lang in LANGUAGES:
        strings = catalog(lang).strings
        assert set(strings) == set(english), lang
        for key, text in strings.items():
            assert fields(text) == fields(english[key]), (lang, key)


def test_unknown_language_and_missing_value_are_clear_errors() -> None:
    with pytest.raises(InputError, match="no catalogue for language 'xx'"):
        catalog("xx")
    with pytest.raises(InputError, match=re.escape("no value for 'line'")):
        catalog("en").t("notice.title")
