"""The one door to onnxruntime: telemetry switched off before it loads, or a refusal.

ONNX Runtime reads ``ORT_DISABLE_TELEMETRY`` once, when it is imported, so the cases
that involve importing it run in a fresh interpreter; the refusals that only read the
environment run here. Whether the switch really stops the traffic is proven at the
system-call level in tests/integration/test_egress_syscalls.py.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lineguard import no_telemetry
from lineguard.contracts.errors import ConfigError
from lineguard.vision.ort import import_onnxruntime, require_telemetry_off, session_options
from tests.support.egress import clean_env

ROOT = Path(__file__).resolve().parents[3]


def _python(code: str, *, home: Path) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter started without the switch, with a fresh home."""
    return subprocess.run(
        [sys.executable, "-c", code], env=clean_env(home), capture_output=True, text=True, check=False
    )


def test_importing_lineguard_switches_ort_telemetry_off(tmp_path: Path) -> None:
    code = (
        "import json, os, sys\n"
        "import lineguard\n"
        "before = 'onnxruntime' in sys.modules\n"
        "from lineguard.vision.ort import import_onnxruntime\n"
        "import_onnxruntime()\n"
        "print(json.dumps([before, os.environ['ORT_DISABLE_TELEMETRY']]))\n"
    )
    out = _python(code, home=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [False, "1"]
    assert not (tmp_path / ".cache" / "Microsoft").exists()


def test_an_operator_value_other_than_1_is_refused_not_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORT_DISABLE_TELEMETRY", "0")
    with pytest.raises(ConfigError) as info:
        import_onnxruntime()
    assert "ORT_DISABLE_TELEMETRY must be '1'" in info.value.message
    assert "found '0'" in info.value.message


def test_an_absent_switch_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORT_DISABLE_TELEMETRY")
    with pytest.raises(ConfigError, match="found absent"):
        require_telemetry_off()
    with pytest.raises(ConfigError, match="found absent"):
        session_options()


def test_onnxruntime_imported_before_lineguard_is_refused(tmp_path: Path) -> None:
    code = (
        "import onnxruntime\n"  # someone else got there first: telemetry is on for this process
        "from lineguard.contracts.errors import ConfigError\n"
        "from lineguard.vision.ort import import_onnxruntime\n"
        "try:\n"
        "    import_onnxruntime()\n"
        "except ConfigError as exc:\n"
        "    print(exc.message)\n"
    )
    out = _python(code, home=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "imported before lineguard set ORT_DISABLE_TELEMETRY=1" in out.stdout


def test_the_cli_turns_a_refusal_into_one_line_and_exit_2(tmp_path: Path) -> None:
    from lineguard.edge.capture.dataset import write_mvtec_dataset
    from lineguard.vision.testing import build_tiny_package

    build_tiny_package(tmp_path / "pkg")
    write_mvtec_dataset(tmp_path / "data", n_train_good=1, n_test_good=2, n_test_per_defect=1, seed=1)
    command = ["model", "eval", "--model", str(tmp_path / "pkg"), "--data", str(tmp_path / "data"), "--json"]
    out = subprocess.run(
        [sys.executable, "-m", "lineguard.cli", *command],
        env={**os.environ, "ORT_DISABLE_TELEMETRY": "false", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert "error: refusing to load onnxruntime: ORT_DISABLE_TELEMETRY must be '1'" in out.stderr
    assert "Traceback" not in out.stderr


def test_session_options_carry_lineguard_defaults() -> None:
    options = session_options(intra_op_threads=2)
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (2, 1)
    assert options.log_severity_level == 3
    assert session_options(inter_op_threads=None).inter_op_num_threads == 0  # onnxruntime's default


def _imports_onnxruntime(tree: ast.AST) -> list[int]:
    """Lines that import onnxruntime directly, including ``importlib.import_module("onnxruntime")``."""
    lines: list[int] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in {"import_module", "__import__"}:
                names = [str(node.args[0].value)]
        if any(n.split(".")[0] == "onnxruntime" for n in names):
            lines.append(node.lineno)
    return lines


def test_no_module_but_vision_ort_imports_onnxruntime() -> None:
    folders = ("src", "tests", "bench")
    files = [ROOT / "dev.py", *(p for d in folders for p in sorted((ROOT / d).rglob("*.py")))]
    offenders = {
        str(p.relative_to(ROOT)): len(lines)
        for p in files
        if (lines := _imports_onnxruntime(ast.parse(p.read_text(encoding="utf-8"))))
    }
    # This file names it only inside the strings it runs in a fresh interpreter.
    assert offenders == {"src/lineguard/vision/ort.py": 2}  # onnxruntime and its quantization tool


def test_the_scanner_sees_every_way_of_importing() -> None:
    code = "import onnxruntime\nfrom onnxruntime.capi import x\nimportlib.import_module('onnxruntime')\n"
    assert _imports_onnxruntime(ast.parse(code)) == [1, 2, 3]


def test_the_switch_is_documented_where_operators_look() -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert f"{no_telemetry.ORT_TELEMETRY_SWITCH}={no_telemetry.ORT_TELEMETRY_OFF}" in text
