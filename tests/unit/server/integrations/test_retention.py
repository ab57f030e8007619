"""Queued and sent work orders age out with the retention sweeper (category work_order_deliveries)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from lineguard.config.server import RetentionConfig
from lineguard.server.integrations import CmmsDeliveryRow
from lineguard.server.retention import place_hold, run_sweep


def test_old_deliveries_are_deleted_and_held_ones_kept(rig_factory: Any) -> None:
    rig, _fake = rig_factory("webhook")
    old, held, recent = rig.queue(3)
    rig.drain()
    now = rig.clock.now + timedelta(days=40)
    with rig.sessions.begin() as session:
        session.execute(
            update(CmmsDeliveryRow)
            .where(CmmsDeliveryRow.work_order_id == recent.work_order_id)
            .values(created_at=now - timedelta(days=1))
        )
    with rig.sessions() as session:
        place_hold(
            session, category_name="work_order_deliveries", record_id=held.work_order_id, reason="case 7",
            actor="user:legal", audit=rig.state.dispatcher.audit,
        )  # fmt: skip
    result = run_sweep(rig.sessions, RetentionConfig(alerts_days=30), now=now)
    assert result.deleted["work_order_deliveries"] == 1
    assert result.held["work_order_deliveries"] == 1
    assert sorted(r.work_order_id for r in rig.rows()) == sorted([held.work_order_id, recent.work_order_id])
    assert old.work_order_id not in {r.work_order_id for r in rig.rows()}
