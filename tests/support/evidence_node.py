"""An edge node enrolled with a real server's services, holding real evidence.

``enroll_evidence_node`` issues a token and enrolls through ``lineguard.server.nodes``
(the certificate is recorded exactly as for a real node), writes the node's identity
files, and opens its encrypted evidence store, whose signer is then the enrolled key.
``put_evidence`` stores a redacted-looking image under a chosen evidence id (the id the
node's event carries).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import SecretStr

from lineguard.contracts.events import BoundingBox
from lineguard.contracts.ids import new_id
from lineguard.crypto import KdfParams
from lineguard.edge.evidence import EvidenceStore
from lineguard.edge.identity import IdentityStore, NodeIdentityInfo
from lineguard.server.context import ServerContext
from lineguard.server.nodes import service as nodes
from lineguard.server.nodes.service import NodeIdentity
from lineguard.server.pki import PlantCa

__all__ = [
    "EvidenceNode",
    "enroll_evidence_node",
    "evidence_image",
    "evidence_store",
    "failed_event",
    "put_evidence",
]

PASSPHRASE = SecretStr("evidence node test passphrase")


@dataclass
class EvidenceNode:
    identity: NodeIdentity
    data_dir: Path
    store: EvidenceStore


def enroll_evidence_node(
    context: ServerContext,
    ca: PlantCa,
    data_dir: Path,
    *,
    node_id: str,
    site_id: str,
    line_id: str,
    camera_ids: list[str],
    server_url: str = "https://127.0.0.1:1",
) -> EvidenceNode:
    with context.sessions() as session:
        token = nodes.issue_token(
            session,
            ca=ca,
            node_id=node_id,
            site_id=site_id,
            line_id=line_id,
            camera_ids=camera_ids,
            ttl=timedelta(hours=1),
            created_by="cli:test",
            audit=context.audit,
        )
    key = IdentityStore.generate_key()
    with context.sessions() as session:
        issued = nodes.enroll(
            session,
            ca=ca,
            token_text=str(token),
            csr_pem=IdentityStore.csr_pem(key, node_id),
            cert_days=7,
            audit=context.audit,
        )
    info = NodeIdentityInfo(node_id, site_id, line_id, camera_ids, server_url)
    IdentityStore(data_dir).save(key=key, cert_pem=issued.certificate_pem, ca_pem=issued.ca_pem, info=info)
    store = evidence_store(data_dir, node_id)
    serial = format(IdentityStore(data_dir).certificate().serial_number, "x")
    identity = NodeIdentity(node_id, site_id, line_id, frozenset(camera_ids), serial)
    return EvidenceNode(identity, data_dir, store)


def evidence_store(data_dir: Path, node_id: str) -> EvidenceStore:
    """The node's store (before enrollment its signer is the node's own Ed25519 key)."""
    return EvidenceStore(
        data_dir,
        node_id=node_id,
        passphrase=PASSPHRASE,
        retention_days={"fail": 90, "uncertain": 90, "pass": 7},
        kdf=KdfParams.insecure_for_tests(),
    )


def evidence_image(width: int = 160, height: int = 120) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=2).astype(np.uint8)


def put_evidence(
    node: EvidenceNode | EvidenceStore,
    *,
    evidence_id: str,
    event_id: str,
    camera_id: str,
    region: BoundingBox | None = None,
    defect_hidden: bool = False,
    image: np.ndarray | None = None,
) -> None:
    """A stored evidence image (160x120 unless ``image``); with ``region``, a v2 crop statement."""
    store = node.store if isinstance(node, EvidenceNode) else node
    store.put(
        evidence_image() if image is None else image,
        category="fail",
        camera_id=camera_id,
        event_id=event_id,
        captured_at=datetime.now(UTC),
        redaction="blur:test:0",
        evidence_id=evidence_id,
        region=region,
        defect_hidden=defect_hidden,
    )


def failed_event(node: EvidenceNode, *, evidence_ref: str | None, camera_id: str = "cam-1") -> dict[str, Any]:
    """An inspection event (wire form) of a failed part on ``node``, captured now."""
    return {
        "event_id": new_id("evt"),
        "idempotency_key": new_id("idk"),
        "node_id": node.identity.node_id,
        "site_id": node.identity.site_id,
        "line_id": node.identity.line_id,
        "station_id": "st-1",
        "camera_id": camera_id,
        "part_id": None,
        "frame_id": 1,
        "captured_at": datetime.now(UTC).isoformat(),
        "model": {"model_id": "mdl", "version": 1, "sha256": "ab" * 32},
        "verdict": "fail",
        "anomaly_score": 0.9,
        "threshold": 0.5,
        "regions": [],
        "evidence_ref": evidence_ref,
        "latency_ms": 12.0,
    }
