"""Doctor checks of data governance, worker communication, vendor assessment, ongoing security."""

from __future__ import annotations

from lineguard import __version__
from lineguard.config.digest import config_sha256
from lineguard.server.governance.access_review import due_state
from lineguard.server.governance.checklist import DoctorInputs, Status, age_days, check
from lineguard.server.retention import CATEGORIES

__all__ = ["KEY_MAX_AGE_DAYS"]

Result = tuple[Status, str, str | None]

#: Keys older than this should be rotated (warn).
KEY_MAX_AGE_DAYS = 365
_BUILD = "lineguard governance build --config server.yaml --out DIR"


@check("data.retention", "data_governance", "Retention set for every category")
def retention(i: DoctorInputs) -> Result:
    days = {name: entry.days(i.state.retention) for name, entry in sorted(CATEGORIES.items())}
    evidence = ", ".join(f"{name} {d} d" for name, d in days.items())
    broken = [e for e in i.state.edge_configs if e.config is None]
    if broken:
        return ("fail", f"unreadable edge config: {broken[0].path}: {broken[0].error}", "fix that edge.yaml")
    if not i.state.edge_configs:
        return (
            "warn",
            f"server: {evidence}; evidence images on the nodes: unknown (no governance.edge_configs)",
            "list every node's edge.yaml under governance.edge_configs in server.yaml",
        )
    edge = "; ".join(
        f"{e.config.node.node_id} evidence fail {e.config.evidence.retention_days_fail} d / "
        f"pass {e.config.evidence.retention_days_pass} d"
        for e in i.state.edge_configs
        if e.config is not None
    )
    return ("pass", f"server: {evidence}; nodes: {edge}", None)


@check("data.evidence_region", "data_governance", "Evidence images keep only the part")
def evidence_region(i: DoctorInputs) -> Result:
    """Flag every camera that stores whole frames: allowed with a written purpose, but it keeps
    the scene around the line (people included), so a reviewer must see each one and why."""
    broken = [e for e in i.state.edge_configs if e.config is None]
    if broken:
        return ("warn", f"unknown for {broken[0].path}: {broken[0].error}", "fix that edge.yaml")
    configs = [e.config for e in i.state.edge_configs if e.config is not None]
    if not configs:
        return (
            "warn",
            "unknown: no readable edge config lists what the cameras store",
            "list every node's edge.yaml under governance.edge_configs in server.yaml",
        )
    cameras = [(c.node.node_id, cam) for c in configs for cam in c.cameras]
    full = [(node, cam) for node, cam in cameras if cam.evidence.full_frame]
    if full:
        listed = "; ".join(
            f"{node}/{cam.camera_id} stores full frames: {cam.evidence.full_frame_purpose.strip()!r}"
            for node, cam in full
        )
        return (
            "warn",
            f"{len(full)} of {len(cameras)} cameras: {listed}",
            "check each purpose still holds; otherwise remove evidence.full_frame from that camera "
            "in edge.yaml (its evidence becomes the ROI plus margin_px)",
        )
    return ("pass", f"all {len(cameras)} cameras store the ROI plus a margin, never the whole frame", None)


def _current(i: DoctorInputs) -> bool:
    build = i.state.last_build
    return build is not None and build.facts_sha256 == i.facts_sha256


@check("data.inventory", "data_governance", "Data inventory generated for the current configuration")
def inventory(i: DoctorInputs) -> Result:
    build = i.state.last_build
    if build is None:
        return ("fail", "no governance documents were ever built", _BUILD)
    if not _current(i):
        return (
            "fail",
            f"built {build.built_at:%Y-%m-%d} from a configuration that has changed since",
            _BUILD,
        )
    return (
        "pass",
        f"built {build.built_at:%Y-%m-%d %H:%M} UTC, manifest sha256 {build.manifest_sha256}",
        None,
    )


@check("workers.notice_generated", "worker_communication", "Worker notice generated")
def notice_generated(i: DoctorInputs) -> Result:
    if not _current(i):
        return ("fail", "no worker notice for the current cameras, retention and access", _BUILD)
    assert i.state.last_build is not None  # noqa: S101 - _current checked it
    return ("pass", f"in build {i.state.last_build.id} (English and German)", None)


@check("workers.notice_published", "worker_communication", "Worker notice publication recorded")
def notice_published(i: DoctorInputs) -> Result:
    build, notice = i.state.last_build, i.state.last_notice
    fix = "lineguard governance notice-published --config server.yaml --date YYYY-MM-DD --where '...'"
    if notice is None or build is None:
        return ("fail", "no publication of a worker notice recorded", fix)
    if notice.build_id != build.id or not _current(i):
        return ("fail", f"the notice published {notice.published_on} is not the current one", fix)
    return ("pass", f"published {notice.published_on} ({notice.where})", None)


@check("vendor.pack", "vendor_assessment", "Vendor assessment pack for this version")
def vendor_pack(i: DoctorInputs) -> Result:
    build = i.state.last_build
    if build is None or build.software_version != __version__:
        found = "none" if build is None else f"for LineGuard {build.software_version}"
        return ("fail", f"vendor answers and architecture pack: {found}; running {__version__}", _BUILD)
    return ("pass", f"vendor answers and architecture pack built for LineGuard {__version__}", None)


@check("security.certificates", "ongoing_security", "Certificate ages")
def certificates(i: DoctorInputs) -> Result:
    ca, server = i.state.ca_certificate, i.state.server_certificate
    if ca is None or server is None:
        return ("fail", "plant CA or server certificate missing", "lineguard ca init --config server.yaml")
    ca_left = -age_days(i.state.now, ca.not_after)
    server_left = -age_days(i.state.now, server.not_after)
    evidence = f"CA valid {ca_left:.0f} more days, server certificate {server_left:.0f} more days"
    if ca_left <= 0 or server_left <= 0:
        return ("fail", evidence, "lineguard ca init (CA) or restart the server (server certificate)")
    if ca_left < 90:
        return (
            "warn",
            evidence,
            "lineguard ca rotate, then retire once the nodes renewed (docs/operations.md)",
        )
    return ("pass", evidence, None)


@check("security.ca_rotation", "ongoing_security", "Plant CA rotation")
def ca_rotation(i: DoctorInputs) -> Result:
    previous, current = i.state.ca_previous, i.state.ca_certificate
    if previous is None:
        return ("pass", "no plant CA rotation overlapping: one CA is trusted", None)
    since = f"since {current.not_before:%Y-%m-%d}" if current is not None else ""
    waiting = i.state.nodes_on_previous_ca
    shown = ", ".join(waiting[:10]) + (f" and {len(waiting) - 10} more" if len(waiting) > 10 else "")
    evidence = (
        f"a plant CA rotation overlaps {since}: the previous CA ({previous.subject}) is still trusted; "
        + (f"{len(waiting)} active node(s) still on it: {shown}" if waiting else "every active node renewed")
    )
    fix = (
        "let the nodes renew (or `lineguard edge renew` on each), then `lineguard ca retire` "
        "(running server processes follow it, no restart)"
        if waiting
        else "`lineguard ca retire --config server.yaml` (running server processes follow it, no restart)"
    )
    return ("warn", evidence, fix)


@check("security.keyring", "ongoing_security", "Key-encryption key age")
def keyring(i: DoctorInputs) -> Result:
    kek = i.state.keys.active_kek
    if kek is None:
        return ("fail", "no readable keyring under data_dir/keys", "lineguard keys init --config server.yaml")
    age = age_days(i.state.now, kek[1])
    evidence = f"active KEK {kek[0]} created {kek[1]:%Y-%m-%d} ({age:.0f} days)"
    if age > KEY_MAX_AGE_DAYS:
        return ("warn", evidence, "lineguard keys rotate --config server.yaml")
    return ("pass", evidence, None)


@check("security.signing_keys", "ongoing_security", "Model-signing key rotation")
def signing_keys(i: DoctorInputs) -> Result:
    keys = i.state.keys.signing_keys
    if not keys:
        return (
            "warn",
            "no active model-signing key: no model can be registered",
            "lineguard keys signing create",
        )
    oldest = min(keys, key=lambda k: k[2])
    age = age_days(i.state.now, oldest[2])
    evidence = f"{len(keys)} active signing keys; oldest {oldest[0]} ({oldest[1]}) is {age:.0f} days old"
    if age > KEY_MAX_AGE_DAYS:
        return ("warn", evidence, f"lineguard keys signing rotate {oldest[0]}")
    return ("pass", evidence, None)


@check("security.audit_verification", "ongoing_security", "Audit log verified")
def audit_verification(i: DoctorInputs) -> Result:
    audit = i.state.audit
    if audit.error is not None:
        return ("fail", f"verification failed: {audit.error}", "lineguard audit verify --config server.yaml")
    reviewer = i.state.settings.governance.owners.audit_log_reviewer
    interval = reviewer.review_interval_days if reviewer else 30
    if audit.last_checkpoint_at is None:
        return (
            "warn",
            f"{audit.verified_entries} entries verified; no signed checkpoint yet",
            "lineguard audit checkpoint --config server.yaml",
        )
    age = age_days(i.state.now, audit.last_checkpoint_at)
    evidence = (
        f"{audit.verified_entries} entries verified now; last signed checkpoint "
        f"{audit.last_checkpoint_at:%Y-%m-%d %H:%M} UTC ({age:.0f} days)"
    )
    if age > interval:
        return ("warn", evidence, "lineguard audit checkpoint --config server.yaml")
    return ("pass", evidence, None)


@check("security.access_review", "ongoing_security", "Last access review")
def access_review(i: DoctorInputs) -> Result:
    signed = i.state.last_signed_review
    overdue, due = due_state(i.state)
    fix = "lineguard access-review start --config server.yaml, then sign-off"
    if signed is None or signed.signed_off_at is None:
        return ("fail", due, fix)
    evidence = (
        f"review {signed.id} signed off by {signed.signed_off_by} {signed.signed_off_at:%Y-%m-%d}; {due}"
    )
    return ("fail", evidence, fix) if overdue else ("pass", evidence, None)


@check("security.config_drift", "ongoing_security", "Configuration changes audited, no drift")
def config_drift(i: DoctorInputs) -> Result:
    problems, fine = [], []
    recorded = i.state.recorded_configs
    if recorded.get("server.yaml") != config_sha256(i.state.settings):
        problems.append("server.yaml changed since its values were last audited")
    for edge in i.state.edge_configs:
        if edge.config is None:
            continue
        node, digest = edge.config.node.node_id, config_sha256(edge.config)
        if recorded.get(f"edge.yaml[{node}]") != digest:
            problems.append(f"{edge.path} changed since its values were last audited")
        if node not in i.state.reported_configs:
            continue  # not enrolled or never seen: the client-certificate check reports it
        reported = i.state.reported_configs[node]
        if reported != digest:
            problems.append(f"node {node} runs another configuration than {edge.path}")
        else:
            fine.append(node)
    if problems:
        return ("warn", "; ".join(problems), "lineguard governance config-audit --config server.yaml, then "
                "deploy the listed edge.yaml to each node")  # fmt: skip
    return (
        "pass",
        "configuration audited; nodes running their listed edge.yaml: " + (", ".join(fine) or "none"),
        None,
    )


@check("security.software_version", "ongoing_security", "Software version")
def software_version(i: DoctorInputs) -> Result:
    return ("pass", f"LineGuard {__version__}", None)
