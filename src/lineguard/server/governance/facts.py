"""The facts every governance document is rendered from, as one JSON tree, and its digest.

:func:`plant_facts` turns the gathered :class:`~.state.PlantState` into plain data:
site and controller, named owners, retention per category, every camera with its line,
privacy zones and evidence retention, the data inventory with the roles the Cedar
policy lets read each category, the security settings, and every registered model with
its training digest, metrics, threshold, approvals and deployments. It holds nothing
that changes without the configuration changing (no sign-in times, no clock), so the
same configuration gives the same :func:`facts_sha256` — what the doctor compares with
the last build to tell whether the documents are current.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from lineguard import __version__
from lineguard.config.edge import EdgeConfig
from lineguard.crypto import utc_text
from lineguard.server.auth import CATEGORIES, ROLES, build_matrix
from lineguard.server.governance.checks_access import OWNER_ROLES, policy_engine
from lineguard.server.governance.inventory import INVENTORY, readers
from lineguard.server.governance.state import ModelState, PlantState

__all__ = ["canonical", "facts_sha256", "plant_facts"]


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def facts_sha256(facts: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(facts)).hexdigest()


def _owners(state: PlantState) -> dict[str, Any]:
    owners = state.settings.governance.owners
    found: dict[str, Any] = {}
    for duty in OWNER_ROLES:
        owner = getattr(owners, duty)
        account = state.account(owner.username) if owner else None
        found[duty] = (
            None
            if owner is None
            else {
                "username": owner.username,
                "name": account.display_name if account else owner.username,
                "review_interval_days": owner.review_interval_days,
            }
        )
    return found


def _camera_entry(
    cameras: dict[tuple[str, str], dict[str, Any]], cfg: EdgeConfig, camera_id: str
) -> dict[str, Any]:
    """The camera's entry (made from the edge.yaml's node if the node has not enrolled it)."""
    node = cfg.node
    return cameras.setdefault(
        (node.node_id, camera_id),
        {"site": node.site_id, "line": node.line_id, "node": node.node_id, "camera": camera_id},
    )


def _cameras(state: PlantState) -> list[dict[str, Any]]:
    """Every camera: enrolled on a node (server database) and/or described by an edge.yaml."""
    cameras: dict[tuple[str, str], dict[str, Any]] = {}
    for node in state.nodes:
        for camera_id in node.camera_ids:
            cameras[(node.node_id, camera_id)] = {
                "site": node.site_id,
                "line": node.line_id,
                "node": node.node_id,
                "camera": camera_id,
            }
    for edge in state.edge_configs:
        if edge.config is None:
            continue
        cfg = edge.config
        for cam in cfg.cameras:
            _camera_entry(cameras, cfg, cam.camera_id).update(
                station=cam.station_id,
                source=cam.source.type,
                privacy_zones=[z.name for z in cam.privacy_zones],
                redaction=cam.redaction,
                pass_sample_rate=cam.pass_sample_rate,
                evidence_fail_days=cfg.evidence.retention_days_fail,
                evidence_pass_days=cfg.evidence.retention_days_pass,
                remote_view=cfg.evidence.remote_view,
                evidence_margin_px=cam.evidence.margin_px,
                # evidence.crop: defects keeps only the defect regions plus this much around them.
                evidence_defect_context_px=cam.evidence.defect_context_px
                if cam.evidence.crop == "defects"
                else None,
                evidence_full_frame_purpose=cam.evidence.full_frame_purpose
                if cam.evidence.full_frame
                else None,
            )
        # Thermal cameras (edge.yaml thermal_cameras) are enrolled like the others: listed with
        # their station, so the facts are the same before and after the node enrolls.
        for thermal in cfg.thermal_cameras:
            _camera_entry(cameras, cfg, thermal.camera_id).update(
                station=thermal.station_id, source=thermal.source.type, kind="thermal"
            )
        # So are enabled PPE cameras (edge.yaml ppe_cameras): they keep no image either. A disabled
        # one is left out, as the documents leave out PPE counting that is off.
        for ppe in (c for c in cfg.ppe_cameras if c.ppe.enabled):
            _camera_entry(cameras, cfg, ppe.camera_id).update(
                station=ppe.station_id,
                source=ppe.source.type,
                privacy_zones=[z.name for z in ppe.privacy_zones],
                kind="ppe",
            )
    return [cameras[k] for k in sorted(cameras)]


def _ppe(state: PlantState) -> list[dict[str, Any]]:
    """Every PPE camera an edge.yaml lists, enabled or not (the documents state only enabled ones)."""
    found = []
    for edge in state.edge_configs:
        if edge.config is None:
            continue
        cfg = edge.config
        for cam in cfg.ppe_cameras:
            found.append(
                {
                    "site": cfg.node.site_id,
                    "line": cfg.node.line_id,
                    "node": cfg.node.node_id,
                    "camera": cam.camera_id,
                    "station": cam.station_id,
                    "enabled": cam.ppe.enabled,
                    "legal_basis": cam.ppe.legal_basis,
                    "zones": [{"name": z.name, "required": list(z.required)} for z in cam.ppe.zones],
                    "min_count": cam.ppe.min_count,
                    "sample_interval_s": cam.ppe.sample_interval_s,
                }
            )
    return sorted(found, key=lambda p: (p["site"], p["line"], p["node"], p["camera"]))


def _inventory(state: PlantState) -> list[dict[str, Any]]:
    matrix = build_matrix(policy_engine(), now=state.now)
    edges = [e.config for e in state.edge_configs if e.config is not None]
    rows = []
    for item in INVENTORY:
        if item.only_if is not None and not item.only_if(edges):
            continue
        edge_days = sorted({item.edge_days(e) for e in edges}) if item.edge_days else []
        rows.append(
            {
                "key": item.key,
                "where": item.where,
                "purpose": item.purpose,
                "subjects": item.subjects,
                "category": item.category.value,
                "category_title": CATEGORIES[item.category].title,
                "server_days": item.server_days(state.retention) if item.server_days else None,
                "edge_days": [list(d) for d in edge_days],
                "readers": [r.value for r in readers(matrix, item.category)],
            }
        )
    return rows


def _security(state: PlantState) -> dict[str, Any]:
    s = state.settings
    return {
        "min_tls_version": s.http.min_tls_version,
        "bind_host": s.http.host,
        "port": s.http.port,
        "keyring_backend": s.keyring.backend,
        "node_cert_days": s.pki.node_cert_days,
        "server_names": list(s.pki.server_names),
        "session_idle_minutes": s.auth.session_idle_minutes,
        "session_absolute_hours": s.auth.session_absolute_hours,
        "lockout_threshold": s.auth.lockout_threshold,
        "password_min_length": s.auth.password_min_length,
        "api_token_max_days": s.auth.api_token_max_days,
        "tuf_root_threshold": s.registry.root_threshold,
        "tuf_timestamp_days": s.registry.timestamp_days,
        "database": "postgresql" if (s.database.url or "").startswith("postgresql") else "sqlite",
    }


def _model(m: ModelState) -> dict[str, Any]:
    v = m.version
    meta = m.metadata
    return {
        "id": v.id,
        "model_id": v.model_id,
        "version": v.version,
        "sha256": v.sha256,
        "signer_key_id": v.signer_key_id,
        "state": v.state,
        "registered_by": v.registered_by_actor,
        "registered_at": utc_text(v.registered_at),
        "decided_by": v.decided_by_actor,
        "decided_at": utc_text(v.decided_at) if v.decided_at else None,
        "metadata": None if meta is None else meta.model_dump(mode="json", exclude={"input", "outputs"}),
        "releases": [
            {
                "release": r.release,
                "kind": r.kind,
                "lines": list(r.lines),
                "nodes": list(r.nodes),
                "by": r.created_by_actor,
                "at": utc_text(r.created_at),
                "reason": r.reason,
            }
            for r in m.releases
        ],
    }


def plant_facts(state: PlantState) -> dict[str, Any]:
    s = state.settings
    return {
        "site_id": s.site_id,
        "controller": s.governance.controller or s.site_id,
        "software_version": __version__,
        "owners": _owners(state),
        "retention": state.retention.model_dump(),
        "cameras": _cameras(state),
        "ppe": _ppe(state),
        "ppe_server_min_count": s.safety.ppe_min_count,
        "inventory": _inventory(state),
        "roles": {
            r.value: {"title": i.title, "mfa": i.mfa_required, "scope": i.scope, "max_days": i.max_days}
            for r, i in ROLES.items()
        },
        "security": _security(state),
        "review": {
            "escalate_after_minutes": s.review.escalate_after_minutes,
            "escalate_to": s.review.escalate_to,
        },
        "egress": [
            {"scheme": r.scheme, "host": r.host, "port": r.port, "purpose": r.purpose} for r in s.egress.allow
        ],
        "models": [_model(m) for m in state.models],
        "policy_sha256": hashlib.sha256(policy_engine().policy_text.encode("utf-8")).hexdigest(),
    }
