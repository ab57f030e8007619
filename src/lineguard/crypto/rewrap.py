"""Re-wrap every data key under the active KEK, in batches, while the system runs.

Rotation never touches the encrypted objects themselves: only their 60-byte wrapped
DEKs. Each batch reads the next keys (in key-id order) still wrapped under a non-active
KEK, unwraps and re-wraps them, and writes each back with compare-and-swap on the old
``kek_id``, so a key shredded or rewritten concurrently is simply skipped. Readers keep
working throughout: a key is always wrapped under some KEK the keyring still holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from lineguard.crypto.datakeys import DataKeyStore, dek_aad
from lineguard.crypto.kek import KekProvider

__all__ = ["RewrapReport", "rewrap_all"]

log = logging.getLogger(__name__)


@dataclass
class RewrapReport:
    """What a re-wrap run did."""

    active_kek_id: str
    rewrapped: int = 0
    skipped: int = 0
    batches: int = 0
    remaining: dict[str, int] = field(default_factory=dict)


def rewrap_all(
    keys: KekProvider,
    store: DataKeyStore,
    *,
    batch_size: int = 500,
    progress: Callable[[int, int], None] | None = None,
    commit: Callable[[], None] | None = None,
) -> RewrapReport:
    """Re-wrap until no data key is left under a non-active KEK.

    Batches walk the keys in key-id order, each starting after the last key of the one
    before, so a pass reads every key once (no index on ``kek_id`` needed). After a pass
    the keys are counted per KEK again; what is still under an old KEK (written
    meanwhile by a server that had not yet reloaded the keyring, with a key id behind
    the walk) gets another pass. A rotation during the run moves the target forward and
    starts the walk again.

    ``progress(done, total)`` is called after each batch; ``commit`` (e.g. a database
    session's commit) after each batch so locks are held briefly.
    """
    report = RewrapReport(active_kek_id=keys.active().kek_id)
    counts = {k: n for k, n in store.count_by_kek().items() if k != report.active_kek_id}
    total, old = sum(counts.values()), list(counts)
    after = ""
    while old:
        active = keys.active()
        if active.kek_id != report.active_kek_id:  # rotated again meanwhile: walk again
            report.active_kek_id, after = active.kek_id, ""
            old = [k for k in store.count_by_kek() if k != active.kek_id]
            continue
        batch = store.wrapped_under(old, batch_size, after=after)
        if not batch:  # the walk reached the end: anything left behind it? (the loop ends if not)
            old, after = [k for k in store.count_by_kek() if k != active.kek_id], ""
            continue
        for key in batch:
            aad = dek_aad(key.key_id, key.category, key.object_id)
            dek = keys.get(key.kek_id).unwrap(key.wrapped, aad)
            if store.rewrap(
                key.key_id, old_kek_id=key.kek_id, new_kek_id=active.kek_id, wrapped=active.wrap(dek, aad)
            ):
                report.rewrapped += 1
            else:
                report.skipped += 1
        after = batch[-1].key_id
        report.batches += 1
        if commit is not None:
            commit()
        if progress is not None:
            progress(report.rewrapped + report.skipped, max(total, report.rewrapped + report.skipped))
    report.remaining = {k: n for k, n in store.count_by_kek().items() if k != report.active_kek_id}
    log.info(
        "re-wrapped %d data keys under KEK %s in %d batches",
        report.rewrapped,
        report.active_kek_id,
        report.batches,
    )
    return report
