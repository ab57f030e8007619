"""The encrypted evidence store: redacted images of failed, uncertain and sampled parts.

Layout under ``data_dir``::

    keys/keyring.json              node KEKs, wrapped under the passphrase (lineguard.crypto)
    evidence/datakeys.db           one wrapped AES-256 data key per object
    evidence/index.db              what each object is: camera, category, hash, signature, expiry
    evidence/objects/<id>.lge      sealed JPEG (AES-256-GCM under the object's data key)
    evidence/signers/<key_id>.pem  public keys that signed evidence

:meth:`EvidenceStore.put` takes an image that has **already been redacted** (the
pipeline's evidence gate guarantees it), encodes it, hashes it, signs the hash together
with what the object is (provenance at capture), seals it under a fresh data key and
writes it. :meth:`verify` proves later that an object is the one the node captured.
:meth:`sweep` enforces retention per category by crypto-shredding: the data key is
deleted first (from then on every copy of the file, backups included, is noise), then
the file. :meth:`rotate_kek` adds a KEK and re-wraps every data key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import SecretStr

from lineguard.config.edge import EdgeConfig
from lineguard.contracts.errors import (
    CryptoError,
    ImageDecodeError,
    InputError,
    IntegrityError,
    NotFoundError,
)
from lineguard.contracts.events import BoundingBox
from lineguard.contracts.ids import new_id
from lineguard.contracts.types import Frame
from lineguard.crypto import (
    Envelope,
    KdfParams,
    Keyring,
    RewrapReport,
    SqliteDataKeyStore,
    canonical_json,
    keyring_path,
    rewrap_all,
    utc_text,
)
from lineguard.edge.evidence.signer import EvidenceSigner, verify_signature

__all__ = ["EVIDENCE_CATEGORY", "EvidenceCategory", "EvidenceRecord", "EvidenceStore"]

EvidenceCategory = Literal["fail", "uncertain", "pass"]
#: The envelope category data keys are bound to.
EVIDENCE_CATEGORY = "edge-evidence"
#: Evidence images are JPEG at this quality unless the node's config says otherwise
#: (``evidence.jpeg_quality``): 95 cost 2.3x the bytes for no defect detail a person sees.
DEFAULT_JPEG_QUALITY = 85

_SCHEMA = """
CREATE TABLE IF NOT EXISTS evidence (
    evidence_id TEXT PRIMARY KEY,
    category TEXT NOT NULL,
    camera_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    captured_at TEXT NOT NULL,
    expires_at REAL NOT NULL,
    content_sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    redaction TEXT NOT NULL,
    signer_key_id TEXT NOT NULL,
    signature BLOB NOT NULL,
    region TEXT NOT NULL DEFAULT '',
    defect_hidden INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS evidence_expiry ON evidence (expires_at);
"""
#: Columns added after the first release; an older index gains them on open (old rows: '' and 0).
_ADDED_COLUMNS = {
    "region": "ALTER TABLE evidence ADD COLUMN region TEXT NOT NULL DEFAULT ''",
    "defect_hidden": "ALTER TABLE evidence ADD COLUMN defect_hidden INTEGER NOT NULL DEFAULT 0",
}
#: Every column, in the order of :class:`EvidenceRecord`'s fields (an index gains new ones at the end).
_SELECT = (
    "SELECT evidence_id, category, camera_id, event_id, captured_at, expires_at, content_sha256, size, "
    "redaction, signer_key_id, signature, region, defect_hidden FROM evidence"
)
_INSERT = (
    "INSERT INTO evidence (evidence_id, category, camera_id, event_id, captured_at, expires_at, "
    "content_sha256, size, redaction, signer_key_id, signature, region, defect_hidden) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
#: Statement format of evidence that records its region and whether redaction covered a defect.
STATEMENT_V2 = "lineguard-evidence-v2"


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    evidence_id: str
    category: EvidenceCategory
    camera_id: str
    event_id: str
    captured_at: str
    expires_at: float
    content_sha256: str
    size: int
    redaction: str
    signer_key_id: str
    signature: bytes
    #: Where the stored image sits in the camera frame, ``"x,y,width,height"`` in frame
    #: pixels; ``""`` for evidence stored before regions were recorded (whole frames).
    region: str = ""
    #: Redaction hid pixels inside a defect region of this image (the reviewer must be told).
    defect_hidden: bool = False

    @property
    def region_box(self) -> BoundingBox | None:
        if not self.region:
            return None
        x, y, width, height = (int(v) for v in self.region.split(","))
        return BoundingBox(x=x, y=y, width=width, height=height)

    def statement_fields(self, node_id: str) -> dict[str, object]:
        """What the node signs: what the object is, the hash of its content and, since v2,
        the region of the frame it shows and whether redaction covered a defect in it."""
        fields: dict[str, object] = {
            "format": "lineguard-evidence-v1",
            "node_id": node_id,
            "evidence_id": self.evidence_id,
            "category": self.category,
            "camera_id": self.camera_id,
            "event_id": self.event_id,
            "captured_at": self.captured_at,
            "content_sha256": self.content_sha256,
            "redaction": self.redaction,
        }
        box = self.region_box
        if box is not None:  # v1 objects keep signing (and verifying) exactly what they did
            fields["format"] = STATEMENT_V2
            fields["stored_region"] = box.model_dump()
            fields["defect_hidden"] = self.defect_hidden
        return fields

    def statement(self, node_id: str) -> bytes:
        """The bytes that were signed (canonical JSON of :meth:`statement_fields`)."""
        return canonical_json(self.statement_fields(node_id))


class EvidenceStore:
    def __init__(
        self,
        data_dir: Path,
        *,
        node_id: str,
        passphrase: SecretStr,
        retention_days: dict[EvidenceCategory, int],
        kdf: KdfParams | None = None,
        jpeg_quality: int = DEFAULT_JPEG_QUALITY,
    ) -> None:
        if not 1 <= jpeg_quality <= 100:
            msg = f"JPEG quality must be between 1 and 100, got {jpeg_quality}"
            raise InputError(msg)
        self.jpeg_quality = jpeg_quality
        self.data_dir = data_dir
        self.node_id = node_id
        self.retention_days = retention_days
        self.root = data_dir / "evidence"
        self.objects = self.root / "objects"
        self.objects.mkdir(parents=True, exist_ok=True, mode=0o700)
        ring = keyring_path(data_dir)
        ring.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.keyring = (
            Keyring(ring, passphrase) if ring.exists() else Keyring.create(ring, passphrase, kdf=kdf)
        )
        self.datakeys = SqliteDataKeyStore(self.root / "datakeys.db")
        self.envelope = Envelope(self.keyring, self.datakeys)
        self.signer = EvidenceSigner.for_node(data_dir)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.root / "index.db", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        have = {str(row[1]) for row in self._db.execute("PRAGMA table_info(evidence)")}
        for column, ddl in _ADDED_COLUMNS.items():
            if column not in have:
                self._db.execute(ddl)
        self.stored = 0
        self.shredded = 0

    @classmethod
    def from_config(
        cls, config: EdgeConfig, *, allow_demo_secrets: bool = False, kdf: KdfParams | None = None
    ) -> EvidenceStore:
        """The store of the node ``config`` describes (KEK passphrase from its secret reference).

        ``kdf`` sets the key-derivation cost of a keyring created here (tests, benchmarks).
        """
        ev = config.evidence
        return cls(
            config.node.data_dir,
            node_id=config.node.node_id,
            passphrase=ev.kek_passphrase.resolve(allow_demo=allow_demo_secrets),
            retention_days={
                "fail": ev.retention_days_fail,
                "uncertain": ev.retention_days_fail,
                "pass": ev.retention_days_pass,
            },
            kdf=kdf,
            jpeg_quality=ev.jpeg_quality,
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self.datakeys.close()

    # -- writing ------------------------------------------------------------------

    def put(
        self,
        redacted: Frame,
        *,
        category: EvidenceCategory,
        camera_id: str,
        event_id: str,
        captured_at: datetime,
        redaction: str,
        evidence_id: str | None = None,
        region: BoundingBox | None = None,
        defect_hidden: bool = False,
    ) -> EvidenceRecord:
        """Encode, sign, seal and write an already-redacted image; returns its record.

        ``region`` is where the image sits in the camera frame (the evidence crop);
        ``defect_hidden`` that redaction hid part of a defect region in it.
        """
        if region is not None and (region.width, region.height) != (redacted.shape[1], redacted.shape[0]):
            msg = (
                f"evidence region is {region.width}x{region.height}, "
                f"but the image is {redacted.shape[1]}x{redacted.shape[0]}"
            )
            raise InputError(msg)
        ok, encoded = cv2.imencode(".jpg", redacted, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            msg = f"cannot encode evidence image of shape {redacted.shape}"
            raise ImageDecodeError(msg)
        content = encoded.tobytes()
        record = EvidenceRecord(
            evidence_id=evidence_id or new_id("evd"),
            category=category,
            camera_id=camera_id,
            event_id=event_id,
            captured_at=utc_text(captured_at),
            expires_at=time.time() + timedelta(days=self.retention_days[category]).total_seconds(),
            content_sha256=hashlib.sha256(content).hexdigest(),
            size=len(content),
            redaction=redaction,
            signer_key_id=self.signer.key_id,
            signature=b"",
            region="" if region is None else f"{region.x},{region.y},{region.width},{region.height}",
            defect_hidden=defect_hidden,
        )
        signature = self.signer.sign(record.statement(self.node_id))
        record = dataclasses.replace(record, signature=signature)
        sealed = self.envelope.seal(content, object_id=record.evidence_id, category=EVIDENCE_CATEGORY)
        path = self._path(record.evidence_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(sealed)
        tmp.replace(path)
        with self._lock:
            self._db.execute(
                _INSERT,
                tuple(_as_dict(record).values()),
            )
        self.stored += 1
        return record

    def _path(self, evidence_id: str) -> Path:
        if not evidence_id.replace("_", "").isalnum():
            msg = f"not an evidence id: {evidence_id[:40]!r}"
            raise NotFoundError(msg)
        return self.objects / f"{evidence_id}.lge"

    # -- reading and proving ------------------------------------------------------

    def record(self, evidence_id: str) -> EvidenceRecord:
        with self._lock:
            row = self._db.execute(_SELECT + " WHERE evidence_id = ?", (evidence_id,)).fetchone()
        if row is None:
            msg = f"no evidence object {evidence_id} on this node"
            raise NotFoundError(msg)
        return _record(row)

    def records(self) -> list[EvidenceRecord]:
        with self._lock:
            rows = self._db.execute(_SELECT + " ORDER BY captured_at").fetchall()
        return [_record(r) for r in rows]

    def read(self, evidence_id: str) -> bytes:
        """The decrypted JPEG bytes, after checking they are what was signed at capture."""
        record = self.record(evidence_id)
        verify_signature(
            record.statement(self.node_id),
            record.signature,
            key_id=record.signer_key_id,
            signers_dir=self.root / "signers",
        )
        try:
            sealed = self._path(evidence_id).read_bytes()
        except OSError as exc:
            msg = f"evidence {evidence_id}: file missing ({exc.strerror})"
            raise NotFoundError(msg) from None
        content = self.envelope.open(sealed, object_id=evidence_id, category=EVIDENCE_CATEGORY)
        digest = hashlib.sha256(content).hexdigest()
        if digest != record.content_sha256:
            msg = (
                f"evidence {evidence_id}: content hashes to {digest}, but {record.content_sha256} was signed"
            )
            raise IntegrityError(msg)
        return content

    def verify(self, evidence_id: str) -> EvidenceRecord:
        """Decrypt, re-hash and check the signature; raises on any mismatch."""
        self.read(evidence_id)
        return self.record(evidence_id)

    def image(self, evidence_id: str) -> Frame:
        content = self.read(evidence_id)
        decoded = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            msg = f"evidence {evidence_id}: stored image does not decode"
            raise ImageDecodeError(msg)
        return np.asarray(decoded, dtype=np.uint8)

    # -- retention, budget, keys --------------------------------------------------

    def _shred(self, evidence_ids: list[str]) -> int:
        for evidence_id in evidence_ids:
            self.envelope.shred(object_id=evidence_id, category=EVIDENCE_CATEGORY)  # key first
            self._path(evidence_id).unlink(missing_ok=True)
            with self._lock:
                self._db.execute("DELETE FROM evidence WHERE evidence_id = ?", (evidence_id,))
        self.shredded += len(evidence_ids)
        return len(evidence_ids)

    def sweep(self, now: float | None = None) -> int:
        """Crypto-shred every object past its retention; returns how many."""
        with self._lock:
            rows = self._db.execute(
                "SELECT evidence_id FROM evidence WHERE expires_at <= ?", (now or time.time(),)
            ).fetchall()
        return self._shred([str(r[0]) for r in rows])

    def shed_passes(self, count: int) -> int:
        """Under disk pressure: shred the oldest *pass* samples (never fail / uncertain)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT evidence_id FROM evidence WHERE category = 'pass' ORDER BY captured_at LIMIT ?",
                (count,),
            ).fetchall()
        return self._shred([str(r[0]) for r in rows])

    def used_bytes(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM evidence").fetchone()
        return int(row[0]) + 64 * int(row[1])  # sealed header + tag per object

    def rotate_kek(self) -> RewrapReport:
        """A fresh active KEK; every data key re-wrapped under it."""
        self.keyring.rotate()
        report = rewrap_all(self.keyring, self.datakeys)
        if report.remaining:
            msg = f"re-wrap left data keys under old KEKs: {report.remaining}"
            raise CryptoError(msg)
        return report


_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(EvidenceRecord))


def _record(row: tuple[Any, ...]) -> EvidenceRecord:
    fields = dict(zip(_FIELDS, row, strict=True))
    fields["signature"] = bytes(fields["signature"])
    fields["defect_hidden"] = bool(fields["defect_hidden"])
    return EvidenceRecord(**fields)


def _as_dict(record: EvidenceRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in _FIELDS}
