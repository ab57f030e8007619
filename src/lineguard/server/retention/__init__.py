"""Retention: per-category deletion (crypto-shredding where encrypted), legal holds, sweep records.

* :data:`CATEGORIES` / :func:`register` — the registry of data categories.
* :func:`run_sweep` — one sweep; :func:`start_sweeper` — the periodic worker that the
  server starts through ``scheduled.lifespan``.
* :func:`place_hold` / :func:`release_hold` — legal holds on named records; each is audited and
  commits (the service owns the transaction: callers pass a plain session, not `sessions.begin()`).
"""

from lineguard.server.retention.models import LegalHoldRow, RetentionSweepRow
from lineguard.server.retention.policy import effective_policy
from lineguard.server.retention.registry import CATEGORIES, RetentionCategory, category, register
from lineguard.server.retention.scheduled import Sweeper, start_sweeper
from lineguard.server.retention.service import SweepResult, place_hold, release_hold, run_sweep

__all__ = [
    "CATEGORIES",
    "LegalHoldRow",
    "RetentionCategory",
    "RetentionSweepRow",
    "SweepResult",
    "Sweeper",
    "category",
    "effective_policy",
    "place_hold",
    "register",
    "release_hold",
    "run_sweep",
    "start_sweeper",
]
