"""A throwaway SoftHSM v2 token for PKCS#11 tests, and a fresh interpreter to use it from.

SoftHSM reads ``SOFTHSM2_CONF`` once per process, when the library initialises, and
other test modules open their own tokens in the same pytest process; so each scenario
runs in a fresh interpreter with the token's environment and reports back as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

SOFTHSM_LIB = Path("/usr/lib/softhsm/libsofthsm2.so")


def softhsm_token(root: Path, *, label: str, pin: str, so_pin: str) -> dict[str, str]:
    """Initialise a token labelled ``label`` under ``root``; the environment that reaches it."""
    if not SOFTHSM_LIB.exists() or shutil.which("softhsm2-util") is None:
        pytest.skip("needs SoftHSM v2 (apt-get install softhsm2) for a real PKCS#11 token")
    (root / "tokens").mkdir(parents=True)
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    init = ["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", so_pin]
    subprocess.run(init, check=True, capture_output=True, env=env)
    return env


def in_fresh_process(env: dict[str, str], body: str, **values: str) -> Any:
    """Run ``body`` (``values`` bound as globals, ``LIB`` the SoftHSM library); its last
    printed line, parsed as JSON."""
    prelude = f"import json\nLIB = {str(SOFTHSM_LIB)!r}\n"
    prelude += "".join(f"{name} = {value!r}\n" for name, value in values.items())
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(body)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
