"""Package format: exactly two files, strict metadata, graph digest pinned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lineguard.contracts.errors import InputError, ModelError
from lineguard.vision.package import METADATA_FILE, MODEL_FILE, ModelMetadata, load_package, sha256_hex
from lineguard.vision.testing import build_tiny_package


def test_tiny_package_round_trips(tmp_path: Path) -> None:
    saved = build_tiny_package(tmp_path / "pkg", threshold=0.3, model_id="m-1")
    assert sorted(p.name for p in (tmp_path / "pkg").iterdir()) == [METADATA_FILE, MODEL_FILE]
    loaded = load_package(tmp_path / "pkg")
    assert loaded.metadata == saved.metadata
    assert loaded.digest == sha256_hex((tmp_path / "pkg" / MODEL_FILE).read_bytes())
    assert loaded.metadata.threshold.value == 0.3
    assert loaded.metadata.created_at.utcoffset() is not None
    assert loaded.metadata.class_names == ["anomaly"]


def test_missing_directory_and_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_package(tmp_path / "nope")
    build_tiny_package(tmp_path / "pkg")
    (tmp_path / "pkg" / MODEL_FILE).unlink()
    with pytest.raises(ModelError, match=r"missing model\.onnx"):
        load_package(tmp_path / "pkg")


def test_extra_file_is_refused(tmp_path: Path) -> None:
    build_tiny_package(tmp_path / "pkg")
    (tmp_path / "pkg" / "model.sig").write_text("x")
    with pytest.raises(ModelError, match=r"unexpected files: model\.sig"):
        load_package(tmp_path / "pkg")


def test_corrupt_metadata_is_refused(tmp_path: Path) -> None:
    build_tiny_package(tmp_path / "pkg")
    (tmp_path / "pkg" / METADATA_FILE).write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_package(tmp_path / "pkg")


def test_unknown_metadata_field_is_refused(tmp_path: Path) -> None:
    build_tiny_package(tmp_path / "pkg")
    path = tmp_path / "pkg" / METADATA_FILE
    raw = json.loads(path.read_text())
    raw["surprise"] = 1
    path.write_text(json.dumps(raw))
    with pytest.raises(ModelError, match="does not match the package format") as info:
        load_package(tmp_path / "pkg")
    assert any("surprise" in d for d in info.value.details)


def test_swapped_graph_is_refused_with_both_digests(tmp_path: Path) -> None:
    build_tiny_package(tmp_path / "a", width=64)
    build_tiny_package(tmp_path / "b", width=32)
    (tmp_path / "a" / MODEL_FILE).write_bytes((tmp_path / "b" / MODEL_FILE).read_bytes())
    with pytest.raises(ModelError, match=r"does not match metadata\.json") as info:
        load_package(tmp_path / "a")
    assert sha256_hex((tmp_path / "b" / MODEL_FILE).read_bytes()) in str(info.value)


def test_save_refuses_to_clobber_unless_asked(tmp_path: Path) -> None:
    build_tiny_package(tmp_path / "pkg", threshold=0.1)
    with pytest.raises(InputError, match="already exists"):
        build_tiny_package(tmp_path / "pkg")
    build_tiny_package(tmp_path / "pkg", threshold=0.2, overwrite=True)
    assert load_package(tmp_path / "pkg").metadata.threshold.value == 0.2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_created_at_must_be_timezone_aware(tmp_path: Path) -> None:
    meta = build_tiny_package(tmp_path / "pkg").metadata.model_dump()
    meta["created_at"] = "2026-01-01T00:00:00"
    with pytest.raises(ValueError, match="timezone-aware"):
        ModelMetadata.model_validate(meta)
