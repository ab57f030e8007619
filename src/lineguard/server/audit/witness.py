"""What this server process itself wrote to the audit chain, to check before signing.

A checkpoint signs "the log up to seq n is exactly this". If the signer trusted the
stored chain head, an insider with database access could rewrite, cut or append
entries after the last checkpoint — consistently, hashes and head included — and the
next checkpoint would sign the forgery as genuine. :func:`create_checkpoint
<lineguard.server.audit.checkpoint.create_checkpoint>` therefore re-walks every entry
since the previous checkpoint, and compares it with this :class:`ChainWitness`: the
``(seq, entry hash)`` of each entry this process appended, learnt from the writes
themselves (``record`` notes them in the session; they count once the transaction
commits, so a rolled-back append is never held against the log).

What the witness catches that a re-walk cannot: a consistent rewrite or a cut of
entries this process wrote. Entries other processes wrote (CLI commands on the host)
are chain-checked by the re-walk only; each checkpoint reports how many there were.

The witness rides on the session factory (``session.info``), so every session the
server opens carries it and no global holds it.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["ChainWitness", "note_append", "witness_of"]

_WITNESS = "lineguard.audit.witness"
_PENDING = "lineguard.audit.pending"
#: Most unsigned entries remembered; beyond it the oldest are forgotten (and so unchecked).
MAX_REMEMBERED = 500_000


class ChainWitness:
    """Thread-safe record of ``seq → entry hash`` appended by this process since the last checkpoint."""

    def __init__(self, *, max_remembered: int = MAX_REMEMBERED) -> None:
        self._lock = threading.Lock()
        self._hashes: dict[int, str] = {}
        self._signed_through = 0
        self._max = max_remembered

    def attach(self, sessions: sessionmaker[Session]) -> ChainWitness:
        """Make every session ``sessions`` opens report its committed appends here."""
        info = dict(sessions.kw.get("info") or {})
        info[_WITNESS] = self
        sessions.configure(info=info)
        return self

    def observe(self, appended: list[tuple[int, str]]) -> None:
        with self._lock:
            for seq, digest in appended:
                if seq > self._signed_through:
                    self._hashes[seq] = digest
            while len(self._hashes) > self._max:
                del self._hashes[min(self._hashes)]

    def unsigned(self) -> dict[int, str]:
        """A copy of what was written and not yet covered by a checkpoint."""
        with self._lock:
            return dict(self._hashes)

    def signed_through(self, seq: int) -> None:
        """A checkpoint now covers entries up to ``seq``: forget them."""
        with self._lock:
            self._signed_through = max(self._signed_through, seq)
            for s in [s for s in self._hashes if s <= seq]:
                del self._hashes[s]

    def __repr__(self) -> str:
        return f"ChainWitness(unsigned={len(self._hashes)}, signed_through={self._signed_through})"


def witness_of(session: Session) -> ChainWitness | None:
    found = session.info.get(_WITNESS)
    return found if isinstance(found, ChainWitness) else None


def note_append(session: Session, seq: int, digest: str) -> None:
    """Called by ``record``: remember the append until the transaction's fate is known."""
    if _WITNESS in session.info:
        session.info.setdefault(_PENDING, []).append((seq, digest))


def pending_appends(session: Session) -> list[tuple[int, str]]:
    """Appends of this session's open transaction (a checkpoint in the same transaction sees them)."""
    return list(session.info.get(_PENDING, ()))


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    witness = witness_of(session)
    if pending and witness is not None:
        witness.observe(pending)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session, *_: Any) -> None:
    session.info.pop(_PENDING, None)
