"""Data-protection documents composed from the facts: the record of processing, the worker
notices (one per line, in every catalogue language), the data inventory and the DPIA draft.

Each function takes the facts tree of :func:`~.facts.plant_facts` and returns
:class:`~.document.Document` values; every number and name in them comes from the facts.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from lineguard.server.governance.catalog import LANGUAGES, catalog
from lineguard.server.governance.compose_ppe import enabled_ppe, ppe_notice_sections, ppe_processing_sections
from lineguard.server.governance.controls import RISKS, Risk
from lineguard.server.governance.document import Document, Section, Table

__all__ = ["data_inventory", "dpia", "record_of_processing", "worker_notices"]

Facts = dict[str, Any]

_NOT_DONE = ("notice.not.identify", "notice.not.biometrics", "notice.not.track", "notice.not.profile")


def _days(value: int | None) -> str:
    return "while in use" if value is None else f"{value} days"


def _owner(facts: Facts, duty: str, missing: str) -> str:
    owner = facts["owners"][duty]
    return missing if owner is None else f"{owner['name']} ({owner['username']})"


def _inventory_rows(facts: Facts) -> tuple[tuple[str, ...], ...]:
    rows = []
    for item in facts["inventory"]:
        edge = "; ".join(f"node: fail {f} d / pass {p} d" for f, p in item["edge_days"])
        keep = _days(item["server_days"]) + (f" ({edge})" if edge else "")
        rows.append(
            (item["key"], item["where"], item["purpose"], keep, ", ".join(item["readers"]) or "nobody")
        )
    return tuple(rows)


def _evidence_region(camera: Facts) -> str:
    if camera.get("kind") == "thermal":
        return "none: a thermal camera keeps no image, only temperatures"
    if camera.get("kind") == "ppe":
        return "none: a PPE camera keeps no image, only counts per zone and hour"
    if "evidence_margin_px" not in camera:
        return "unknown (no edge.yaml listed)"
    purpose = camera.get("evidence_full_frame_purpose")
    if purpose:
        return f"whole frame, purpose: {purpose}"
    margin = camera["evidence_margin_px"]
    context = camera.get("evidence_defect_context_px")
    if context is not None:
        return (
            f"the defects only (their regions + {context} px; "
            f"a part without defect regions: the part, region + {margin} px)"
        )
    return f"the part only (region + {margin} px)"


def record_of_processing(facts: Facts) -> Document:
    s = facts["security"]
    cameras = facts["cameras"]
    return Document(
        name="record-of-processing",
        title=f"Record of processing activities: visual inspection at {facts['site_id']}",
        anchor="GDPR Art. 30(1)",
        sections=(
            Section(
                "Controller and contacts",
                bullets=(
                    f"Controller: {facts['controller']}",
                    f"Data-protection contact: {_owner(facts, 'data_protection_contact', 'not named')}",
                    f"System-security owner: {_owner(facts, 'security_owner', 'not named')}",
                    f"Audit-log reviewer: {_owner(facts, 'audit_log_reviewer', 'not named')}",
                ),
            ),
            Section(
                "Purposes of the processing",
                bullets=(
                    "Automated visual quality inspection of parts (pass/fail, defect location).",
                    "Evidence of failed parts for quality engineering and customer complaints.",
                    "Access control and accountability of the people who use the system.",
                    *(
                        ("Workplace safety: hourly counts of missing PPE per zone (see below).",)
                        if enabled_ppe(facts)
                        else ()
                    ),
                ),
            ),
            Section(
                "Categories of data subjects",
                bullets=(
                    "Workers who pass a camera's field of view (made unrecognisable at capture).",
                    "Employees and partners with an account (names, sign-ins, actions).",
                    *(("Workers in PPE zones, as suppressed counts only.",) if enabled_ppe(facts) else ()),
                ),
            ),
            Section(
                "Categories of personal data and retention",
                table=Table(("data", "where", "purpose", "kept", "readable by"), _inventory_rows(facts)),
            ),
            Section(
                "Recipients",
                paragraphs=(
                    "Only the plant's own staff, by role (see the data inventory). No processor of the "
                    "vendor receives data.",
                ),
            ),
            Section(
                "Transfers to third countries",
                paragraphs=("None. All data stays on the plant's own hardware.",),
            ),
            Section(
                "Technical and organisational security measures (Art. 32)",
                bullets=(
                    f"TLS {s['min_tls_version']} or newer for every connection; "
                    "client certificates for nodes "
                    f"(valid {s['node_cert_days']} days).",
                    f"Encryption at rest under a {s['keyring_backend']} keyring; "
                    "evidence encrypted on the node.",
                    f"Individual accounts, MFA for privileged roles, sessions end after "
                    f"{s['session_idle_minutes']} idle minutes, "
                    f"lockout after {s['lockout_threshold']} failures.",
                    "Tamper-evident audit log with signed checkpoints.",
                    "Signed model updates (TUF), four-eyes approval of deployments.",
                ),
            ),
            Section(
                "Cameras covered",
                table=Table(
                    ("site", "line", "node", "camera", "privacy zones", "evidence image"),
                    tuple(
                        (
                            c["site"],
                            c["line"],
                            c["node"],
                            c["camera"],
                            ", ".join(c.get("privacy_zones", [])) or "—",
                            _evidence_region(c),
                        )
                        for c in cameras
                    ),
                ),
            ),
            *ppe_processing_sections(facts),
        ),
    )


def _notice(facts: Facts, lang: str, site: str, line: str, cameras: list[Facts]) -> Document:
    c = catalog(lang)
    retention = facts["retention"]
    readers = {item["key"]: item["readers"] for item in facts["inventory"]}

    def roles(key: str) -> str:
        return ", ".join(c.t(f"role.{r}") for r in readers[key]) or c.t("notice.nobody")

    zones = sorted({z for cam in cameras for z in cam.get("privacy_zones", [])})
    redaction = sorted({c.t(f"redaction.{cam['redaction']}") for cam in cameras if "redaction" in cam})
    fail_days = sorted({str(cam["evidence_fail_days"]) for cam in cameras if "evidence_fail_days" in cam})
    pass_days = sorted({str(cam["evidence_pass_days"]) for cam in cameras if "evidence_pass_days" in cam})
    rates = sorted({cam["pass_sample_rate"] for cam in cameras if "pass_sample_rate" in cam})
    sample = ", ".join(c.t("notice.sample", percent=f"{r * 100:g}") for r in rates if r > 0) or c.t(
        "notice.nosample"
    )
    unknown = c.t("notice.unknown")
    margins = sorted(
        {
            cam["evidence_margin_px"]
            for cam in cameras
            if "evidence_margin_px" in cam and not cam.get("evidence_full_frame_purpose")
        }
    )
    region = [c.t("notice.captures.region", margin="/".join(str(m) for m in margins))] if margins else []
    full_frame = [
        c.t("notice.captures.fullframe", camera=cam["camera"], purpose=cam["evidence_full_frame_purpose"])
        for cam in cameras
        if cam.get("evidence_full_frame_purpose")
    ]
    return Document(
        name=f"worker-notice-{site}-{line}.{lang}",
        title=c.t("notice.title", line=line),
        anchor=c.t("notice.anchor"),
        lang=lang,
        sections=(
            Section("", paragraphs=(c.t("notice.intro", site=site, line=line),)),
            Section(
                c.t("notice.monitors.heading"),
                paragraphs=(c.t("notice.monitors.text", line=line),),
                bullets=tuple(
                    c.t(
                        "notice.monitors.camera",
                        camera=cam["camera"],
                        station=cam.get("station", "—"),
                        node=cam["node"],
                    )
                    for cam in cameras
                ),
            ),
            Section(
                c.t("notice.captures.heading"),
                paragraphs=(
                    c.t("notice.captures.text", sample=sample),
                    *region,
                    *full_frame,
                    c.t("notice.captures.redaction", redaction=", ".join(redaction) or unknown),
                    c.t("notice.captures.zones", zones=", ".join(zones))
                    if zones
                    else c.t("notice.captures.nozones"),
                ),
            ),
            Section(
                c.t("notice.retention.heading"),
                bullets=(
                    c.t(
                        "notice.retention.evidence",
                        fail_days="/".join(fail_days) or unknown,
                        pass_days="/".join(pass_days) or unknown,
                    ),
                    c.t(
                        "notice.retention.results",
                        results_days=retention["inspection_events_days"],
                        alerts_days=retention["alerts_days"],
                    ),
                    c.t("notice.retention.audit", audit_days=retention["audit_log_days"]),
                ),
            ),
            Section(
                c.t("notice.access.heading"),
                bullets=(
                    c.t("notice.access.evidence", roles=roles("evidence_images")),
                    c.t("notice.access.results", roles=roles("inspection_results")),
                    c.t("notice.access.audit", reviewer=_owner(facts, "audit_log_reviewer", unknown)),
                ),
            ),
            *ppe_notice_sections(facts, c, site, line),
            Section(c.t("notice.not.heading"), bullets=tuple(c.t(k) for k in _NOT_DONE)),
            Section(
                c.t("notice.contact.heading"),
                paragraphs=(
                    c.t(
                        "notice.contact.text",
                        contact=_owner(facts, "data_protection_contact", unknown),
                        controller=facts["controller"],
                    ),
                ),
            ),
        ),
    )


def worker_notices(facts: Facts) -> list[Document]:
    """One notice per (site, line) with cameras, in every catalogue language."""
    docs = []
    by_line = groupby(
        sorted(facts["cameras"], key=lambda c: (c["site"], c["line"])), key=lambda c: (c["site"], c["line"])
    )
    for (site, line), cams in by_line:
        cameras = list(cams)
        docs += [_notice(facts, lang, site, line, cameras) for lang in LANGUAGES]
    return docs


def data_inventory(facts: Facts) -> Document:
    return Document(
        name="data-inventory",
        title=f"Data inventory: {facts['site_id']}",
        anchor="GDPR Art. 30(1)(c)-(f); readers computed from the Cedar access policy",
        sections=(
            Section(
                "Data categories",
                paragraphs=(
                    "Readers are the roles whose permissions include reading the category, as the Cedar "
                    f"policy (sha256 {facts['policy_sha256']}) decides; retention is the live configuration.",
                ),
                table=Table(("data", "where", "purpose", "kept", "readable by"), _inventory_rows(facts)),
            ),
            Section(
                "Roles",
                table=Table(
                    ("role", "MFA", "granted for", "longest grant"),
                    tuple(
                        (
                            f"{info['title']} ({role})",
                            "yes" if info["mfa"] else "no",
                            info["scope"],
                            "until revoked" if info["max_days"] is None else f"{info['max_days']} days",
                        )
                        for role, info in facts["roles"].items()
                    ),
                ),
            ),
        ),
    )


def _risk_section(risk: Risk) -> Section:
    bullets = []
    for control in risk.controls:
        path, _, test = control.test.partition("::")
        bullets.append(f"{control.text}. Proved by {test} in {path}")
    return Section(
        f"Risk: {risk.risk}",
        paragraphs=(f"Likelihood without controls: {risk.likelihood}; severity: {risk.severity}.",),
        bullets=tuple(bullets),
    )


def dpia(facts: Facts) -> Document:
    return Document(
        name="dpia",
        title=f"Data-protection impact assessment (draft): visual inspection at {facts['site_id']}",
        anchor="GDPR Art. 35",
        sections=(
            Section(
                "Description of the processing",
                paragraphs=(
                    f"{len(facts['cameras'])} cameras inspect parts; people in view are made unrecognisable "
                    "at capture. See the record of processing for purposes, data and retention.",
                ),
            ),
            Section(
                "Necessity and proportionality",
                bullets=(
                    "Only images of failed parts (and a configured sample of passed parts) are kept.",
                    f"Retention per category is configured (inspection results "
                    f"{facts['retention']['inspection_events_days']} days) and enforced by deletion.",
                    "No identification, biometrics, tracking or performance profiling.",
                ),
            ),
            Section(
                "Risks and the controls that answer them",
                paragraphs=(
                    "Each control names the automated test that proves it; the test suite runs in CI.",
                ),
            ),
            *(_risk_section(risk) for risk in RISKS),
            Section(
                "Consultation and sign-off",
                paragraphs=(
                    f"To be reviewed by the data-protection contact "
                    f"({_owner(facts, 'data_protection_contact', 'not named')}) and the works council.",
                ),
            ),
        ),
    )
