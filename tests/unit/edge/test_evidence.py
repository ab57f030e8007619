"""Encrypted, signed evidence: round trip, tampering, retention by crypto-shredding, rotation."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr

from lineguard.contracts.errors import CryptoError, InputError, IntegrityError, NotFoundError, SignatureError
from lineguard.contracts.events import BoundingBox, Verdict
from lineguard.contracts.types import CapturedFrame
from lineguard.crypto import KdfParams
from lineguard.edge.evidence import EvidenceStore
from lineguard.edge.evidence.gate import EvidenceGate
from lineguard.edge.evidence.region import cut
from lineguard.edge.redact import Box, FakeRedactor, RedactionMode
from tests.support.sealed_v1 import seal_v1
from tests.unit.edge.support import PASSPHRASE, PlantPki, evidence_store


def _store(data_dir: Path, passphrase: str = PASSPHRASE) -> EvidenceStore:
    return evidence_store(data_dir, passphrase)


def _image() -> np.ndarray:
    yy, xx = np.mgrid[0:60, 0:80]
    return np.stack([xx * 3, yy * 4, (xx + yy) * 2], axis=2).astype(np.uint8)


def _put(store: EvidenceStore, category: str = "fail") -> str:
    return store.put(
        _image(),
        category=category,
        camera_id="cam-1",
        event_id="evt_1",  # type: ignore[arg-type]
        captured_at=datetime.now(UTC),
        redaction="blur:fake:0",
    ).evidence_id


def test_evidence_round_trips_encrypted_and_signed(tmp_path: Path) -> None:
    store = _store(tmp_path)
    evidence_id = _put(store)
    sealed = (tmp_path / "evidence" / "objects" / f"{evidence_id}.lge").read_bytes()
    assert b"JFIF" not in sealed and b"\xff\xd8\xff" not in sealed  # no plaintext JPEG on disk
    record = store.verify(evidence_id)
    assert record.category == "fail"
    decoded = store.image(evidence_id)
    assert decoded.shape == (60, 80, 3)
    assert np.abs(decoded.astype(int) - _image().astype(int)).mean() < 12  # JPEG q95


def test_flipped_byte_in_the_file_is_detected(tmp_path: Path) -> None:
    store = _store(tmp_path)
    evidence_id = _put(store)
    path = tmp_path / "evidence" / "objects" / f"{evidence_id}.lge"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CryptoError, match="altered or truncated"):
        store.read(evidence_id)


def test_altered_index_record_breaks_the_signature(tmp_path: Path) -> None:
    store = _store(tmp_path)
    evidence_id = _put(store)
    with sqlite3.connect(tmp_path / "evidence" / "index.db") as db:
        db.execute("UPDATE evidence SET camera_id = 'cam-9' WHERE evidence_id = ?", (evidence_id,))
    with pytest.raises(SignatureError, match="does not match the statement"):
        store.verify(evidence_id)


def test_swapped_content_hash_is_an_integrity_error(tmp_path: Path) -> None:
    store = _store(tmp_path)
    a, b = _put(store), _put(store)
    # Copy b's sealed object over a's: the envelope refuses an object of another record.
    objects = tmp_path / "evidence" / "objects"
    (objects / f"{a}.lge").write_bytes((objects / f"{b}.lge").read_bytes())
    with pytest.raises((CryptoError, IntegrityError), match=f"belongs to .*{b}"):
        store.read(a)


def test_retention_crypto_shreds_key_then_file(tmp_path: Path) -> None:
    store = _store(tmp_path)
    old_pass, fail = _put(store, "pass"), _put(store, "fail")
    sealed = (tmp_path / "evidence" / "objects" / f"{old_pass}.lge").read_bytes()
    week = 7 * 86400 + 60
    assert store.sweep(now=time.time() + week) == 1
    assert not (tmp_path / "evidence" / "objects" / f"{old_pass}.lge").exists()
    with pytest.raises(NotFoundError):
        store.record(old_pass)
    # A copy of the file (a backup) can no longer be opened: its data key is gone.
    with pytest.raises(CryptoError, match="crypto-shredded"):
        store.envelope.open(sealed, object_id=old_pass, category="edge-evidence")
    store.verify(fail)


def test_kek_rotation_rewraps_every_data_key(tmp_path: Path) -> None:
    store = _store(tmp_path)
    ids = [_put(store) for _ in range(3)]
    old = store.keyring.active_id
    report = store.rotate_kek()
    assert report.rewrapped == 3
    assert store.keyring.active_id != old
    assert set(store.datakeys.count_by_kek()) == {store.keyring.active_id}
    for evidence_id in ids:
        store.verify(evidence_id)


def test_wrong_passphrase_cannot_open_the_store(tmp_path: Path) -> None:
    _put(_store(tmp_path))
    with pytest.raises(CryptoError):
        _store(tmp_path, passphrase="not-the-passphrase-000")


def test_enrolled_node_signs_with_its_identity_key(tmp_path: Path) -> None:
    PlantPki(tmp_path / "pki").enroll(tmp_path / "data", "node-1", "https://127.0.0.1:1")
    store = _store(tmp_path / "data")
    assert store.signer.algorithm == "ecdsa-p256-sha256"
    store.verify(_put(store))


def _frame() -> CapturedFrame:
    return CapturedFrame("cam-1", 0, datetime.now(UTC), np.full((60, 80, 3), 200, np.uint8))


def _store_whole(gate: EvidenceGate, frame: CapturedFrame, mode: RedactionMode) -> str | None:
    """The gate's writer step for a crop that is the whole frame."""
    crop = cut(frame.image, BoundingBox(x=0, y=0, width=80, height=60))  # the window is the frame too
    return gate.store(
        crop,
        camera_id=frame.camera_id,
        captured_at=frame.captured_at,
        verdict=Verdict.FAIL,
        event_id="evt_1",
        mode=mode,
    )


def test_gate_stores_only_the_redacted_image(tmp_path: Path) -> None:
    store = _store(tmp_path)
    gate = EvidenceGate(store, FakeRedactor([Box(0, 0, 40, 60)]))
    evidence_id = _store_whole(gate, _frame(), "black")
    assert evidence_id is not None
    stored = store.image(evidence_id)
    assert stored[:, :38].max() < 10  # the person's box is black in what was stored
    assert stored[:, 42:].min() > 190


@pytest.mark.parametrize("redactor", [FakeRedactor(fail=True), None])
def test_gate_stores_nothing_when_redaction_is_impossible(
    tmp_path: Path, redactor: FakeRedactor | None
) -> None:
    store = _store(tmp_path)
    gate = EvidenceGate(store, redactor)
    assert _store_whole(gate, _frame(), "blur") is None
    assert gate.redaction_failures == 1
    assert store.records() == []
    assert list((tmp_path / "evidence" / "objects").iterdir()) == []


def _submit_and_store(gate: EvidenceGate, defect: BoundingBox) -> str:
    frame = CapturedFrame("cam-1", 0, datetime.now(UTC), np.full((60, 80, 3), 200, np.uint8))
    region = BoundingBox(x=10, y=10, width=60, height=40)
    evidence_id = gate.submit(
        frame, verdict=Verdict.FAIL, event_id="evt_1", mode="black", region=region, defects=[defect]
    )
    assert gate.drain_one(0.0)
    return evidence_id


def test_redaction_over_a_defect_is_recorded_and_signed_with_the_image(tmp_path: Path) -> None:
    store = _store(tmp_path)
    # The context window is the whole 80x60 frame here: the box is in frame pixels.
    gate = EvidenceGate(store, FakeRedactor([Box(0, 0, 20, 20)]))
    hidden = _submit_and_store(gate, BoundingBox(x=12, y=12, width=10, height=10))  # frame pixels
    clear = _submit_and_store(gate, BoundingBox(x=50, y=35, width=10, height=10))
    assert store.verify(hidden).defect_hidden is True
    assert store.verify(clear).defect_hidden is False
    assert gate.defect_hidden == 1
    record = store.record(hidden)
    assert record.region == "10,10,60,40" and store.image(hidden).shape == (40, 60, 3)
    fields = record.statement_fields("node-1")
    assert fields["format"] == "lineguard-evidence-v2" and fields["defect_hidden"] is True
    # The flag is part of what was signed: clearing it afterwards breaks the signature.
    with sqlite3.connect(tmp_path / "evidence" / "index.db") as db:
        db.execute("UPDATE evidence SET defect_hidden = 0 WHERE evidence_id = ?", (hidden,))
    with pytest.raises(SignatureError, match="does not match the statement"):
        store.verify(hidden)


def test_a_region_that_does_not_match_the_image_is_refused(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(InputError, match="evidence region is 60x40, but the image is 80x60"):
        store.put(
            _image(),
            category="fail",
            camera_id="cam-1",
            event_id="evt_1",
            captured_at=datetime.now(UTC),
            redaction="blur:fake:0",
            region=BoundingBox(x=0, y=0, width=60, height=40),
        )
    assert store.records() == []


def test_evidence_stored_before_regions_were_recorded_still_verifies(tmp_path: Path) -> None:
    store = _store(tmp_path)
    evidence_id = _put(store)  # no region: a whole frame, signed as a v1 statement
    store.close()
    with sqlite3.connect(tmp_path / "evidence" / "index.db") as db:  # the index of an older node
        db.execute("ALTER TABLE evidence DROP COLUMN region")
        db.execute("ALTER TABLE evidence DROP COLUMN defect_hidden")
    reopened = _store(tmp_path)
    record = reopened.verify(evidence_id)
    assert (record.region, record.defect_hidden, record.region_box) == ("", False, None)
    assert record.statement_fields("node-1")["format"] == "lineguard-evidence-v1"
    assert "defect_hidden" not in record.statement_fields("node-1")


def test_jpeg_quality_is_the_configured_one(tmp_path: Path) -> None:
    """``evidence.jpeg_quality`` (default 85) sets the stored JPEG's quality: fewer bytes
    at a lower quality, the same image either way; a quality outside 1-100 is refused."""
    rng = np.random.default_rng(3)
    textured = rng.integers(0, 255, size=(120, 160, 3), dtype=np.uint8)  # detail JPEG must spend bytes on
    sizes = {}
    for quality in (95, 60):
        store = EvidenceStore(
            tmp_path / f"q{quality}",
            node_id="node-1",
            passphrase=SecretStr(PASSPHRASE),
            retention_days={"fail": 90, "uncertain": 90, "pass": 7},
            kdf=KdfParams.insecure_for_tests(),
            jpeg_quality=quality,
        )
        evidence_id = store.put(
            textured, category="fail", camera_id="cam-1", event_id="evt_1",  # type: ignore[arg-type]
            captured_at=datetime.now(UTC), redaction="blur:fake:0",
        ).evidence_id  # fmt: skip
        sizes[quality] = len(store.read(evidence_id))
        assert store.image(evidence_id).shape == (120, 160, 3)
        store.close()
    assert sizes[60] < sizes[95] * 0.6
    assert _store(tmp_path / "default").jpeg_quality == 85
    with pytest.raises(InputError, match="between 1 and 100, got 0"):
        EvidenceStore(
            tmp_path / "bad", node_id="node-1", passphrase=SecretStr(PASSPHRASE),
            retention_days={"fail": 90, "uncertain": 90, "pass": 7}, kdf=KdfParams.insecure_for_tests(),
            jpeg_quality=0,
        )  # fmt: skip


def test_evidence_sealed_v1_by_an_older_node_verifies_and_is_shredded(tmp_path: Path) -> None:
    """Files written before sealed format v2 stay readable, and retention shreds them too."""
    store = _store(tmp_path)
    evidence_id = _put(store, "pass")
    path = tmp_path / "evidence" / "objects" / f"{evidence_id}.lge"
    content = store.envelope.open(path.read_bytes(), object_id=evidence_id, category="edge-evidence")
    v1 = seal_v1(
        store.envelope.keys, store.envelope.store, content, object_id=evidence_id, category="edge-evidence"
    )
    path.write_bytes(v1)  # as an older node left it on disk
    assert v1[:7] == b"LGSEAL\x01"
    assert store.verify(evidence_id).category == "pass"
    assert store.sweep(now=time.time() + 7 * 86400 + 60) == 1
    with pytest.raises(CryptoError, match="crypto-shredded"):
        store.envelope.open(v1, object_id=evidence_id, category="edge-evidence")
