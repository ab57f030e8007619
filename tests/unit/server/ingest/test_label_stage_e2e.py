"""A label check end to end: generated labels → the node's label stage (real zxing-cpp and
RapidOCR) → its outbox → its sender over HTTPS + mTLS → the plant server (SQLite and
PostgreSQL) → stored stage results and part verdicts, each failure naming its field."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from lineguard.edge.identity import enroll
from lineguard.edge.labels.render import Degradation
from lineguard.edge.outbox import build_batch
from lineguard.server.ingest.models import PartVerdictRow, StageResultRow
from tests.support.label_node import GOOD, label_frame, label_worker, run_parts, send_outbox
from tests.unit.server.conftest import Plant

pytestmark = pytest.mark.slow  # RapidOCR's models load with the stage (~1 s), then ~0.3 s a label


def test_label_results_travel_from_the_node_to_the_server(plant: Plant, tmp_path: Path) -> None:
    enroll(plant.url, plant.token("node-lbl", cameras=("cam-1",)), tmp_path / "identity")
    worker, outbox = label_worker(tmp_path / "edge", node_id="node-lbl")
    blurred = Degradation(perspective=0.04, blur_sigma_px=0.8, glare=60, contrast=0.6, noise_std=4)
    run_parts(
        worker,
        [
            ("P-1", label_frame(GOOD, blurred)),
            ("P-2", label_frame(GOOD.with_(quantity=24))),
            ("P-3", label_frame(None)),
        ],
    )
    # The server seals part ids: the node's own record says which verdict id is which part.
    ids = {p.part_id: p.part_verdict_id for p in build_batch("node-lbl", outbox.pending(500)).parts}
    send_outbox(outbox, identity_dir=tmp_path / "identity", server_url=plant.url, node_id="node-lbl")
    assert outbox.counts().get("rejected", 0) == 0

    with plant.session() as session:
        rows = {p.part_verdict_id: p for p in session.scalars(select(PartVerdictRow)).all()}
        parts = {pid: rows[ids[pid]] for pid in ("P-1", "P-2", "P-3")}
        results = {r.part_verdict_id: r for r in session.scalars(select(StageResultRow)).all()}
    assert {pid: parts[pid].verdict for pid in ("P-1", "P-2", "P-3")} == {
        "P-1": "pass",
        "P-2": "fail",
        "P-3": "fail",
    }
    by_part = {pid: results[parts[pid].part_verdict_id] for pid in ("P-1", "P-2", "P-3")}
    assert {(r.kind, r.stage, r.node_id) for r in by_part.values()} == {("label", "carton-label", "node-lbl")}
    assert [(r["code"], r["subject"]) for r in by_part["P-2"].reasons] == [("mismatch", "quantity")]
    assert [(r["code"], r["subject"]) for r in by_part["P-3"].reasons] == [("missing", "label")]
    assert by_part["P-1"].reasons == [] and by_part["P-1"].inputs[0]["name"] == "expected_label"
    assert [s["verdict"] for s in parts["P-2"].stages] == ["fail"]
    outbox.close()
