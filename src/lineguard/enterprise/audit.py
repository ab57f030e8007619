"""The roll-up's own audit log: the plant's hash chain and signed checkpoints, with its own key.

One implementation serves both logs: :func:`record` is the plant's
:func:`lineguard.server.audit.record` over :data:`~.models.ROLLUP_AUDIT` (appends
serialised on the chain head, entry hashes and the Merkle frontier as the plant's), and
:func:`checkpoint` is the plant's ``create_checkpoint``: it re-walks the span since the
last checkpoint (and, in ``serve``, compares it with what that process wrote) before
signing the Merkle root with the roll-up's Ed25519 key (:func:`open_rollup_audit_key`:
sealed under the roll-up's own keyring, or on an HSM). :func:`verify_log` runs the
plant's :class:`~lineguard.server.audit.Ed25519Verifier` with the published public key,
so a rewritten entry, a cut tail or a forged checkpoint is reported naming the entry.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from lineguard.config.enterprise import EnterpriseServiceConfig
from lineguard.contracts.audit import AuditEvent
from lineguard.enterprise.models import ROLLUP_AUDIT
from lineguard.server.audit import (
    AuditKey,
    DatabaseLog,
    Ed25519Verifier,
    Entry,
    VerifyReport,
    create_checkpoint,
    load_public_key,
    open_checkpoint_key,
)
from lineguard.server.audit import record as record_in

__all__ = [
    "ROLLUP_SITE_ID",
    "checkpoint",
    "open_rollup_audit_key",
    "public_key_file",
    "record",
    "verify_log",
]

#: What the roll-up's checkpoint statements name as their log (the plant's name their site).
ROLLUP_SITE_ID = "enterprise-rollup"


def record(session: Session, event: AuditEvent, *, actor: str) -> Entry:
    """Append ``event`` to the roll-up's chain in ``session``'s transaction (the caller commits)."""
    return record_in(session, event, actor=actor, tables=ROLLUP_AUDIT)


def open_rollup_audit_key(config: EnterpriseServiceConfig) -> AuditKey:
    """The roll-up's checkpoint key (``keyring`` in enterprise.yaml), created on first use;
    its public key is published as :func:`public_key_file`."""
    return open_checkpoint_key(config.keyring, data_dir=config.data_dir)


def public_key_file(config: EnterpriseServiceConfig) -> Path:
    return config.data_dir / "audit" / "signing-key.pub.pem"


def checkpoint(session: Session, signer: AuditKey) -> int | None:
    """Sign the log's Merkle root now, after re-walking the span since the last checkpoint;
    its seq, or None if nothing is new. ``AuditChainError`` (nothing signed) if the span disagrees."""
    row = create_checkpoint(session, signer, site_id=ROLLUP_SITE_ID, tables=ROLLUP_AUDIT)
    return None if row is None else row.seq


def verify_log(session: Session, public_key_pem: bytes, *, source: str = "public key") -> VerifyReport:
    """Every checkpoint signature, hash link and Merkle root of the roll-up's log.

    ``AuditChainError`` / ``SignatureError`` name the first problem; a log with no signed
    checkpoint is refused (a cut tail could not be ruled out).
    """
    verifier = Ed25519Verifier(load_public_key(public_key_pem, source=source))
    return verifier.verify(DatabaseLog(session, site_id=ROLLUP_SITE_ID, tables=ROLLUP_AUDIT))
