"""Each server domain's front module imports on its own, first, in a fresh interpreter.

An import cycle between domains hides when a test session happens to import them in a
friendly order: ``lineguard registry register`` (which imports the keystore first) once
failed with "partially initialized module" while every in-process test passed.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import lineguard.server as server_pkg

DOMAINS = sorted(i.name for i in pkgutil.iter_modules(server_pkg.__path__) if i.ispkg)


@pytest.mark.parametrize("domain", DOMAINS)
def test_front_module_imports_first(domain: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import lineguard.server.{domain}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
