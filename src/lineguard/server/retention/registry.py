"""Data categories the sweeper knows, each a :class:`RetentionCategory` in one registry.

A category names its table, the time column that ages a record, the column a legal
hold names records by, how many days the configuration keeps it, and what expiry does:
delete the row (and crypto-shred its data keys when its fields were sealed), or clear
one column (evidence references outlive nothing: the event stays, the reference goes).

Plant-data domains (production, quality, maintenance, finance and pricing, vendor
terms, customer orders) plug in with one :func:`register` call when their tables land;
a category whose table is not installed is skipped, so the registry can run ahead of
the schema.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from lineguard.config.server import RetentionConfig
from lineguard.contracts.errors import InputError

__all__ = ["CATEGORIES", "RetentionCategory", "category", "register"]


@dataclass(frozen=True)
class RetentionCategory:
    """How one data category ages out."""

    name: str
    table: str
    time_column: str
    #: Column whose value a legal hold names (``lineguard retention hold --record``).
    hold_column: str
    days: Callable[[RetentionConfig], int]
    #: Columns joined with ``:`` give the envelope ``object_id`` of the row's sealed fields.
    object_id_columns: Sequence[str] = ()
    #: Envelope ``category`` of those fields; None when the row holds nothing sealed.
    sealed_category: str | None = None
    #: Site and line columns: with the hour of ``time_column`` they name the hour bucket whose
    #: one data key seals the row's fields (``lineguard.server.keystore.buckets``); empty when
    #: each record has its own key. A bucket's key is shredded when its whole hour expired.
    bucket_columns: Sequence[str] = ()
    #: Clear this column instead of deleting the row.
    clear_column: str | None = None
    description: str = ""
    #: Called in the deleting transaction with the primary keys about to be deleted, before
    #: the delete (e.g. plant data takes them out of its rollups). Set by the owning domain.
    before_delete: Callable[[Session, Sequence[Any]], None] | None = None


CATEGORIES: dict[str, RetentionCategory] = {}


def register(entry: RetentionCategory) -> RetentionCategory:
    """Add a category (or replace one of the same name, e.g. in tests)."""
    CATEGORIES[entry.name] = entry
    return entry


def category(name: str) -> RetentionCategory:
    try:
        return CATEGORIES[name]
    except KeyError:
        msg = f"unknown data category {name!r}; expected one of: {', '.join(sorted(CATEGORIES))}"
        raise InputError(msg) from None


register(
    RetentionCategory(
        name="inspection_events",
        table="inspection_events",
        time_column="captured_at",
        hold_column="event_id",
        days=lambda r: r.inspection_events_days,
        object_id_columns=("node_id", "idempotency_key"),
        sealed_category="inspection_events",
        bucket_columns=("site_id", "line_id"),
        description="Per-part inspection results (hourly rollups are kept: they hold no per-part data).",
    )
)
register(
    RetentionCategory(
        name="part_verdicts",
        table="part_verdicts",
        time_column="first_seen_at",
        hold_column="part_verdict_id",
        days=lambda r: r.inspection_events_days,
        object_id_columns=("node_id", "idempotency_key"),
        sealed_category="part_verdicts",
        description="Per-part verdicts (kept as long as the frame events they fuse).",
    )
)
register(
    RetentionCategory(
        name="stage_results",
        table="stage_results",
        time_column="captured_at",
        hold_column="result_id",
        days=lambda r: r.inspection_events_days,
        description="What inspection stages (gauging, labels…) found on each part; nothing sealed.",
    )
)
register(
    RetentionCategory(
        name="measurements",
        table="measurements",
        time_column="captured_at",
        hold_column="result_id",
        days=lambda r: r.inspection_events_days,
        description="Measured values of gauged parts (SPC reads them); kept as long as the results.",
    )
)
register(
    RetentionCategory(
        name="ppe_counts",
        table="ppe_counts",
        time_column="hour_start",
        hold_column="counts_id",
        days=lambda r: r.ppe_counts_days,
        description="Hourly PPE counts per zone (aggregates, small counts suppressed; no person in them).",
    )
)
register(
    RetentionCategory(
        name="evidence_refs",
        table="inspection_events",
        time_column="captured_at",
        hold_column="evidence_ref",
        days=lambda r: r.evidence_refs_days,
        clear_column="evidence_ref",
        description="References from events to evidence images on the edge nodes (cleared, event kept).",
    )
)
register(
    RetentionCategory(
        name="alerts",
        table="alerts",
        time_column="raised_at",
        hold_column="alert_id",
        days=lambda r: r.alerts_days,
        object_id_columns=("node_id", "idempotency_key"),
        sealed_category="alerts",
        description="Alerts raised by edge nodes; their messages are sealed.",
    )
)
register(
    RetentionCategory(
        name="work_orders",
        table="work_order_triggers",
        time_column="created_at",
        hold_column="trigger_id",
        days=lambda r: r.alerts_days,
        object_id_columns=("node_id", "idempotency_key"),
        sealed_category="work_orders",
        description="Work-order triggers; kept as long as alerts.",
    )
)
register(
    RetentionCategory(
        name="work_order_deliveries",
        table="cmms_deliveries",
        time_column="created_at",
        hold_column="work_order_id",
        days=lambda r: r.alerts_days,
        object_id_columns=("work_order_id",),
        sealed_category="work_orders",
        description="Work orders queued for and sent to a CMMS (sealed, lineguard.server.integrations); "
        "kept as long as alerts.",
    )
)
register(
    RetentionCategory(
        name="user_sessions",
        table="auth_sessions",
        time_column="expires_at",
        hold_column="id",
        days=lambda r: r.user_sessions_days,
        description="Browser sessions, counted from their expiry.",
    )
)
register(
    RetentionCategory(
        name="plant_data",
        table="plant_records",
        time_column="updated_at",
        hold_column="record_id",
        days=lambda r: r.plant_data_days,
        object_id_columns=("record_id",),
        sealed_category="plant_data",
        description="Plant records and documents (lineguard.server.plantdata), counted from their last "
        "change; their lines and index terms go with them.",
    )
)
register(
    RetentionCategory(
        name="assistant_questions",
        table="assistant_questions",
        time_column="asked_at",
        hold_column="question_id",
        days=lambda r: r.assistant_questions_days,
        object_id_columns=("question_id",),
        sealed_category="assistant_questions",
        description="Questions asked of the plant assistant and its answers (sealed; "
        "lineguard.server.assistant); the ai.question audit entries stay with the audit log.",
    )
)
