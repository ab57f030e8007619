"""The data inventory: each category of data LineGuard holds, where, why, how long, who reads it.

The rows name what the code stores (tables, files on the node); the **retention** comes
from the live configuration and the **readers** from the Cedar policy — for each row the
roles the policy lets read its access-control category (:func:`readers`, the same
question ``docs/permissions.md`` is generated from). Nothing here is hand-kept text that
could drift from what the system does: only the purpose and the description are words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lineguard.config.edge import EdgeConfig
from lineguard.config.server import RetentionConfig
from lineguard.server.auth import ROLES, Action, Category, Matrix, Role

__all__ = ["INVENTORY", "InventoryItem", "readers"]


@dataclass(frozen=True, slots=True)
class InventoryItem:
    key: str
    where: str
    purpose: str
    subjects: str
    #: The access-control category whose ``.read`` permission opens this data.
    category: Category
    #: Days kept on the server (None: kept while it is in use, e.g. an account).
    server_days: Callable[[RetentionConfig], int] | None = None
    #: Days kept on each node (fail, pass) for evidence images.
    edge_days: Callable[[EdgeConfig], tuple[int, int]] | None = None
    #: Listed only when this holds for the edge configs (data that exists only when a feature is on).
    only_if: Callable[[list[EdgeConfig]], bool] | None = None


def _ppe_enabled(edges: list[EdgeConfig]) -> bool:
    return any(cam.ppe.enabled for e in edges for cam in e.ppe_cameras)


INVENTORY: tuple[InventoryItem, ...] = (
    InventoryItem(
        "inspection_results",
        "edge outbox, then the server database",
        "quality inspection of parts: pass/fail verdicts, scores, defect regions",
        "none directly; results carry line, camera and time, not people",
        Category.INSPECTION_RESULTS,
        server_days=lambda r: r.inspection_events_days,
    ),
    InventoryItem(
        "alerts",
        "edge outbox, then the server database (messages sealed)",
        "warn the line about defects and camera faults",
        "none directly",
        Category.INSPECTION_RESULTS,
        server_days=lambda r: r.alerts_days,
    ),
    InventoryItem(
        "evidence_images",
        "edge node only, encrypted; the server holds references",
        "show why a part failed; people are redacted at capture",
        "workers who pass a camera despite redaction (blurred or blacked out)",
        Category.EVIDENCE_IMAGES,
        server_days=lambda r: r.evidence_refs_days,
        edge_days=lambda e: (e.evidence.retention_days_fail, e.evidence.retention_days_pass),
    ),
    InventoryItem(
        "ppe_counts",
        "edge outbox, then the server database",
        "workplace safety: per zone and hour, people seen and how many lacked required PPE",
        "workers in PPE zones, as suppressed counts only (no image, no person)",
        Category.SAFETY_COMPLIANCE,
        server_days=lambda r: r.ppe_counts_days,
        only_if=_ppe_enabled,
    ),
    InventoryItem(
        "user_accounts",
        "server database (passwords as argon2id hashes, TOTP secrets sealed)",
        "sign-in and access control",
        "employees and partners with an account",
        Category.USERS_AND_ROLES,
    ),
    InventoryItem(
        "user_sessions",
        "server database (session ids hashed)",
        "keep a person signed in for one shift; source address for security",
        "employees and partners with an account",
        Category.USERS_AND_ROLES,
        server_days=lambda r: r.user_sessions_days,
    ),
    InventoryItem(
        "audit_log",
        "server database (hash-chained, signed checkpoints)",
        "accountability: who did what, when",
        "employees and partners with an account",
        Category.AUDIT_LOG,
        server_days=lambda r: r.audit_log_days,
    ),
    InventoryItem(
        "plant_data",
        "server database",
        "production, quality and maintenance context of inspections",
        "none directly",
        Category.PRODUCTION_DATA,
        server_days=lambda r: r.plant_data_days,
    ),
    InventoryItem(
        "models",
        "server registry and the nodes that run them",
        "detect defects on the plant's own parts",
        "none: trained on images of parts only",
        Category.MODEL_CONFIGURATION,
    ),
)


def readers(matrix: Matrix, category: Category) -> list[Role]:
    """Roles the policy lets read ``category`` (in the role order of the catalogue)."""
    action = Action(f"{category.value}.read")
    return [role for role in ROLES if matrix.allowed[(role, action)]]
