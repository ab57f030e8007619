"""Verify an audit log: the template method runs every check, subclasses supply the key.

:meth:`Verifier.verify` checks, in order:

1. every signed checkpoint (the key primitive :meth:`Verifier.verify_signature` is the
   only thing a subclass provides; :class:`Ed25519Verifier` uses a public key), that
   its Merkle frontier matches its root and size, and that no two disagree;
2. walking the entries from the start (or from the checkpoint old entries were pruned
   to): sequence numbers without gaps or repeats, each ``prev_hash`` equal to the
   previous entry's hash, each entry's hash recomputed from its content, and at every
   checkpoint the entry hash and Merkle root it signed;
3. that no checkpoint (from the log or kept elsewhere) lies beyond the end: a
   truncated tail is detected by a checkpoint that covers entries no longer there;
4. that a pruned log (one that starts after seq 1) was pruned by retention, provably:
   the kept entries hold an ``audit.pruned`` entry naming the base, the base is a
   signed checkpoint, and that checkpoint is older (at verification time) than the
   retention the entry claims, itself at least :data:`MIN_AUDIT_RETENTION_DAYS`. A
   cut of recent entries dressed up as a prune fails here, naming the gap.

The first problem raises :class:`AuditChainError` (or :class:`SignatureError`) naming
the entry and what was expected vs found. An empty policy is an error: with no signed
checkpoint at all, truncation could not be ruled out, so verification refuses.
"""

from __future__ import annotations

import base64
import binascii
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from lineguard.contracts.errors import AuditChainError, SignatureError
from lineguard.server.audit.chain import MerkleFrontier, entry_hash
from lineguard.server.audit.models import GENESIS_HASH
from lineguard.server.audit.records import Checkpoint, Entry, LogSource
from lineguard.server.audit.service import checkpoint_statement
from lineguard.server.audit.signing import key_id_of, verify_ed25519

__all__ = ["MIN_AUDIT_RETENTION_DAYS", "Ed25519Verifier", "Verifier", "VerifyReport"]

#: The floor of ``retention.audit_log_days`` (config refuses less): no prune is younger.
MIN_AUDIT_RETENTION_DAYS = 365
_PRUNED = "audit.pruned"


@dataclass(frozen=True)
class VerifyReport:
    """What a successful verification covered."""

    entries: int
    first_seq: int
    last_seq: int
    checkpoints: int
    last_checkpoint_seq: int

    @property
    def unanchored(self) -> int:
        """Entries after the last signed checkpoint: chained, but a cut there would go unseen."""
        return self.last_seq - self.last_checkpoint_seq


class Verifier(ABC):
    """Template method: :meth:`verify` is fixed; subclasses supply :meth:`verify_signature`."""

    @abstractmethod
    def verify_signature(self, checkpoint: Checkpoint, statement: bytes, signature: bytes) -> None:
        """Raise :class:`SignatureError` unless ``signature`` over ``statement`` is valid."""

    def verify(
        self,
        log: LogSource,
        *,
        trusted_checkpoints: Iterable[Checkpoint] = (),
        now: datetime | None = None,
    ) -> VerifyReport:
        by_seq = self._check_checkpoints([*log.checkpoints(), *trusted_checkpoints])
        if not by_seq:
            msg = "no signed checkpoint to verify against: truncation could not be ruled out"
            raise AuditChainError(msg)
        walk = _Walk.start(log.base(), by_seq)
        for entry in log.entries():
            walk.step(entry)
        report = walk.finish(log.tail())
        if walk.base is not None:
            _check_prune(walk.base, walk.prune_claims, now or datetime.now(UTC))
        return report

    def _check_checkpoints(self, checkpoints: list[Checkpoint]) -> dict[int, Checkpoint]:
        by_seq: dict[int, Checkpoint] = {}
        for cp in checkpoints:
            try:
                signature = base64.urlsafe_b64decode(cp.signature + "=" * (-len(cp.signature) % 4))
            except (binascii.Error, ValueError):
                msg = f"checkpoint at seq {cp.seq}: signature is not base64url"
                raise SignatureError(msg) from None
            statement = checkpoint_statement(
                seq=cp.seq,
                entry_hash=cp.entry_hash,
                merkle_root=cp.merkle_root,
                created_at=cp.created_at,
                key_id=cp.key_id,
                site_id=cp.site_id,
            )
            self.verify_signature(cp, statement, signature)
            frontier = MerkleFrontier.from_json(cp.frontier)
            if frontier.size != cp.seq or frontier.root() != cp.merkle_root:
                msg = (
                    f"checkpoint at seq {cp.seq}: its Merkle frontier covers {frontier.size} entries "
                    f"with root "
                    f"{frontier.root()}, expected {cp.seq} entries with root {cp.merkle_root}"
                )
                raise AuditChainError(msg)
            seen = by_seq.get(cp.seq)
            if seen is not None and (seen.entry_hash, seen.merkle_root) != (cp.entry_hash, cp.merkle_root):
                msg = (
                    f"two validly signed checkpoints at seq {cp.seq} disagree ({seen.merkle_root} vs "
                    f"{cp.merkle_root}): the log was rewritten after one of them"
                )
                raise AuditChainError(msg)
            by_seq[cp.seq] = cp
        return by_seq


class Ed25519Verifier(Verifier):
    """Verifies checkpoints with the published Ed25519 audit public key."""

    def __init__(self, public_key: Ed25519PublicKey) -> None:
        self.public_key = public_key
        self.key_id = key_id_of(public_key)

    def verify_signature(self, checkpoint: Checkpoint, statement: bytes, signature: bytes) -> None:
        if checkpoint.key_id != self.key_id:
            msg = f"checkpoint at seq {checkpoint.seq} names key {checkpoint.key_id}, expected {self.key_id}"
            raise SignatureError(msg)
        verify_ed25519(self.public_key, statement, signature, what=f"checkpoint at seq {checkpoint.seq}")


class _Walk:
    """State of one pass over the entries: what the next entry must look like."""

    def __init__(self, base: Checkpoint | None, by_seq: dict[int, Checkpoint]) -> None:
        self.by_seq = by_seq
        self.base = base
        #: ``audit.pruned`` entries seen: (seq, through_seq, retention_days).
        self.prune_claims: list[tuple[int, int, int]] = []
        if base is None:
            self.expected, self.prev, self.frontier = 1, GENESIS_HASH, MerkleFrontier()
        else:
            self.expected, self.prev = base.seq + 1, base.entry_hash
            self.frontier = MerkleFrontier.from_json(base.frontier)
        self.first = self.expected
        self.last_cp = self.expected - 1
        self.pending = sorted(s for s in by_seq if s >= self.expected)
        self.pending_i = self.checked = self.count = 0

    @classmethod
    def start(cls, base: Checkpoint | None, by_seq: dict[int, Checkpoint]) -> _Walk:
        if base is not None:
            vouched = by_seq.get(base.seq)
            if vouched is None or vouched.entry_hash != base.entry_hash:
                msg = f"the log starts after seq {base.seq}, but no valid signed checkpoint vouches for it"
                raise AuditChainError(msg)
            base = vouched
        return cls(base, by_seq)

    def step(self, entry: Entry) -> None:
        expected = self.expected
        if entry.seq > expected:
            msg = f"entry seq {expected} is missing or out of order: expected it next, got {entry.seq}"
            raise AuditChainError(msg)
        if entry.seq < expected:
            msg = (
                f"entry out of place after seq {expected - 1}: expected seq {expected}, got {entry.seq} "
                "(inserted, duplicated or reordered)"
            )
            raise AuditChainError(msg)
        if entry.prev_hash != self.prev:
            msg = (
                f"entry {entry.seq} does not link to its predecessor: prev_hash expected {self.prev}, got "
                f"{entry.prev_hash} (an entry before it was altered, removed or inserted)"
            )
            raise AuditChainError(msg)
        computed = entry_hash(
            seq=entry.seq,
            event_id=entry.event_id,
            recorded_at=entry.recorded_at,
            name=entry.name,
            actor=entry.actor,
            outcome=entry.outcome,
            payload=entry.payload,
            prev_hash=entry.prev_hash,
        )
        if computed != entry.entry_hash:
            msg = (
                f"entry {entry.seq} was altered: its content hashes to {computed}, it says {entry.entry_hash}"
            )
            raise AuditChainError(msg)
        self.frontier.append_entry(computed)
        if entry.name == _PRUNED and self.base is not None:
            self.prune_claims.append(_prune_claim(entry))
        if self.pending_i < len(self.pending) and self.pending[self.pending_i] == entry.seq:
            self._check_against(self.by_seq[entry.seq], computed)
        self.prev, self.expected, self.count = computed, expected + 1, self.count + 1

    def _check_against(self, cp: Checkpoint, computed: str) -> None:
        root = self.frontier.root()
        if (cp.entry_hash, cp.merkle_root) != (computed, root):
            msg = (
                f"signed checkpoint at seq {cp.seq} ({cp.created_at}) does not match the log: it signed "
                f"entry hash {cp.entry_hash} and Merkle root {cp.merkle_root}, the log has {computed} "
                f"and {root} (entries between seq {self.last_cp + 1} and {cp.seq} were rewritten)"
            )
            raise AuditChainError(msg)
        self.pending_i, self.checked, self.last_cp = self.pending_i + 1, self.checked + 1, cp.seq

    def finish(self, tail: tuple[int, str] | None) -> VerifyReport:
        last = self.expected - 1
        if self.pending_i < len(self.pending):
            cp = self.by_seq[self.pending[self.pending_i]]
            msg = (
                f"the log was truncated: it ends at seq {last}, but a checkpoint signed at {cp.created_at} "
                f"covers entries up to seq {cp.seq}"
            )
            raise AuditChainError(msg)
        if tail is not None and tail != (last, self.prev):
            msg = f"the log ends at seq {last} ({self.prev}), its chain head says {tail[0]} ({tail[1]})"
            raise AuditChainError(msg)
        return VerifyReport(self.count, self.first, last, self.checked, self.last_cp)


def _prune_claim(entry: Entry) -> tuple[int, int, int]:
    try:
        fields = json.loads(entry.payload)
        through, days = fields["through_seq"], fields["retention_days"]
    except (ValueError, TypeError, KeyError):
        through = days = None
    if type(through) is not int or type(days) is not int:
        msg = f"entry {entry.seq} ({_PRUNED}) does not name through_seq and retention_days as integers"
        raise AuditChainError(msg)
    return entry.seq, through, days


def _check_prune(base: Checkpoint, claims: list[tuple[int, int, int]], now: datetime) -> None:
    """A log that starts after seq 1 must show a retention prune to that point, old enough."""
    gap = f"entries 1-{base.seq} were removed"
    claim = next((c for c in claims if c[1] == base.seq), None)
    if claim is None:
        msg = (
            f"{gap}, but the kept log holds no {_PRUNED} entry through seq {base.seq}: not a retention prune"
        )
        raise AuditChainError(msg)
    seq, _, days = claim
    if days < MIN_AUDIT_RETENTION_DAYS:
        msg = (
            f"{gap}: the {_PRUNED} entry {seq} claims a retention of {days} days, below the floor of "
            f"{MIN_AUDIT_RETENTION_DAYS}"
        )
        raise AuditChainError(msg)
    try:
        signed_at = datetime.fromisoformat(base.created_at.replace("Z", "+00:00"))
    except ValueError:
        msg = f"{gap}: the checkpoint at seq {base.seq} has no readable time ({base.created_at[:40]!r})"
        raise AuditChainError(msg) from None
    age = now - signed_at
    if age < timedelta(days=days):
        msg = (
            f"{gap}: the checkpoint at seq {base.seq} ({base.created_at}) is only {age.days} days old, "
            f"but entries may be pruned only after {days} days ({_PRUNED} entry {seq})"
        )
        raise AuditChainError(msg)
