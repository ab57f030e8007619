"""Fuzz the evidence verifier: any change to a sealed object or its record is refused, typed."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from lineguard.contracts.errors import LineGuardError
from lineguard.crypto import KdfParams
from lineguard.edge.evidence import EvidenceStore
from tests.unit.edge.support import PASSPHRASE


@dataclass
class Sealed:
    store: EvidenceStore
    evidence_id: str
    path: Path
    original: bytes
    index: Path


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Sealed:
    directory = tmp_path_factory.mktemp("evidence-fuzz")
    store = EvidenceStore(
        directory,
        node_id="node-1",
        passphrase=SecretStr(PASSPHRASE),
        retention_days={"fail": 90, "uncertain": 90, "pass": 7},
        kdf=KdfParams.insecure_for_tests(),
    )
    evidence_id = store.put(
        np.full((16, 16, 3), 90, np.uint8),
        category="fail",
        camera_id="cam-1",
        event_id="evt_1",
        captured_at=datetime.now(UTC),
        redaction="blur:fake:0",
    ).evidence_id
    path = directory / "evidence" / "objects" / f"{evidence_id}.lge"
    return Sealed(store, evidence_id, path, path.read_bytes(), directory / "evidence" / "index.db")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    position=st.integers(min_value=0, max_value=100_000),
    flip=st.integers(min_value=1, max_value=255),
    truncate=st.booleans(),
)
def test_any_flipped_or_truncated_byte_is_a_typed_refusal(
    sealed: Sealed, position: int, flip: int, truncate: bool
) -> None:
    position %= len(sealed.original)
    data = bytearray(sealed.original)
    if truncate:
        data = data[:position]
    else:
        data[position] ^= flip
    sealed.path.write_bytes(bytes(data))
    try:
        sealed.store.read(sealed.evidence_id)
    except LineGuardError:
        pass
    else:  # pragma: no cover - would be a verifier bug
        raise AssertionError("a modified sealed object was accepted")
    finally:
        sealed.path.write_bytes(sealed.original)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    column=st.sampled_from(
        ["category", "camera_id", "event_id", "captured_at", "content_sha256", "redaction"]
    ),
    value=st.text(min_size=1, max_size=20),
)
def test_any_changed_record_field_is_a_typed_refusal(sealed: Sealed, column: str, value: str) -> None:
    with sqlite3.connect(sealed.index) as db:
        original = db.execute(
            f"SELECT {column} FROM evidence WHERE evidence_id = ?", (sealed.evidence_id,)
        ).fetchone()[0]
        if value == original:
            return
        db.execute(f"UPDATE evidence SET {column} = ? WHERE evidence_id = ?", (value, sealed.evidence_id))
    try:
        sealed.store.verify(sealed.evidence_id)
    except LineGuardError:
        pass
    else:  # pragma: no cover
        raise AssertionError(f"a changed {column} was accepted")
    finally:
        with sqlite3.connect(sealed.index) as db:
            db.execute(
                f"UPDATE evidence SET {column} = ? WHERE evidence_id = ?", (original, sealed.evidence_id)
            )
