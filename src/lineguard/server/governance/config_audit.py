"""Configuration changes, audited: each config file's non-secret values are kept, and a change
is recorded as one ``config.changed`` entry per setting, with before and after.

:func:`record_config_changes` runs at every server start (``scheduled.lifespan``) and on
demand (``lineguard governance config-audit``): it compares ``server.yaml`` and every
``edge.yaml`` listed under ``governance.edge_configs`` with the values recorded last time.
The first sight of a file records its baseline without an event; afterwards every added,
removed or changed setting is one audit entry (``setting`` = ``server.yaml:retention.alerts_days``
or ``edge.yaml[line1-node]:cameras[cam-1].roi.width``). Secrets never appear: the values come
from :func:`lineguard.config.digest.config_values`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import false, update
from sqlalchemy.orm import Session

from lineguard.config.digest import config_sha256, config_values, diff_values
from lineguard.config.server import ServerConfig
from lineguard.contracts.audit import ConfigChanged
from lineguard.server.context import AuditHook
from lineguard.server.governance.models import ConfigSnapshotRow
from lineguard.server.governance.state import edge_config_paths, load_edge_configs
from lineguard.server.storage import transaction_lock

__all__ = ["CONFIG_ACTOR", "ConfigChange", "config_sources", "record_config_changes"]

#: Who a change found at start-up is recorded as: the file changed while nobody was looking.
CONFIG_ACTOR = "system:config"
_MAX = 500


@dataclass(frozen=True, slots=True)
class ConfigChange:
    source: str
    setting: str
    before: str | None
    after: str | None


def config_sources(settings: ServerConfig) -> dict[str, BaseModel]:
    """``server.yaml`` and each readable listed ``edge.yaml`` (by node id), as loaded now."""
    sources: dict[str, BaseModel] = {"server.yaml": settings}
    for edge in load_edge_configs(edge_config_paths(settings)):
        if edge.config is not None:
            sources[f"edge.yaml[{edge.config.node.node_id}]"] = edge.config
    return sources


def _clip(value: str | None) -> str | None:
    return value if value is None or len(value) <= _MAX else value[: _MAX - 1] + "…"


def record_config_changes(
    session: Session, *, settings: ServerConfig, audit: AuditHook, actor: str = CONFIG_ACTOR,
    now: datetime | None = None,
) -> list[ConfigChange]:  # fmt: skip
    """Audit what changed in each config file since it was last recorded; commit.

    Replicas starting together take turns (``storage.transaction_lock``): one records a
    change, the next finds the snapshot already current. On SQLite that lock is a no-op, and
    ``http.workers`` processes start together on one file: each would read "no snapshot"
    and the second insert failed its start (a UNIQUE error). So the SQLite path first takes
    the database's write lock with an update that matches no row; the other worker waits
    for the commit (busy timeout) and then reads the current snapshot.
    """
    transaction_lock(session, "config-audit")
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(ConfigSnapshotRow).where(false()).values(source=ConfigSnapshotRow.source))
    moment = now or datetime.now(UTC)
    changes: list[ConfigChange] = []
    for source, config in config_sources(settings).items():
        values, digest = config_values(config), config_sha256(config)
        row = session.get(ConfigSnapshotRow, source)
        if row is None:
            session.add(ConfigSnapshotRow(source=source, sha256=digest, values=values, recorded_at=moment))
            continue
        if row.sha256 == digest:
            continue
        for key, before, after in diff_values(row.values, values):
            change = ConfigChange(source, f"{source}:{key}", _clip(before), _clip(after))
            audit(
                session,
                ConfigChanged(setting=change.setting[:200], before=change.before, after=change.after),
                actor=actor,
            )
            changes.append(change)
        row.sha256, row.values, row.recorded_at = digest, values, moment
    session.commit()
    return changes
