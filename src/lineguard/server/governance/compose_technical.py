"""Technical documents composed from the facts: the EU AI Act technical documentation of each
deployed model, the vendor-assessment answers and the architecture pack for an assessor."""

from __future__ import annotations

from typing import Any

from lineguard.server.governance.controls import VENDOR_ANSWERS
from lineguard.server.governance.document import Document, Section, Table
from lineguard.vision.calibration import describe_operating_point
from lineguard.vision.package import ThresholdSpec

__all__ = ["ai_act_files", "architecture_pack", "lookup", "vendor_answers"]

Facts = dict[str, Any]

_LIMITATIONS = (
    "The model learns what good parts look like; a defect type that looks like normal variation may pass.",
    "Lighting, camera position or a new part variant outside the training images changes the scores: "
    "re-train and re-calibrate after such a change.",
    "Scores near the threshold are reported as uncertain and need a person's judgement.",
    "The model judges parts only; it is not designed or validated to assess people.",
)


def _fmt(value: object) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _operating_point(threshold: dict[str, Any]) -> str:
    """The package's operating point with its 95 % intervals, or why it cannot be said."""
    try:
        return describe_operating_point(ThresholdSpec.model_validate(threshold))
    except ValueError:
        return "not recorded in the package"


def _fields(pairs: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """``field: value`` lines (a digest fits a line; it would overflow a table cell)."""
    return tuple(f"{name}: {value}" for name, value in pairs)


def _ai_act(facts: Facts, model: Facts) -> Document:
    meta = model["metadata"] or {}
    threshold = meta.get("threshold", {})
    training = meta.get("training_data", {})
    evaluation = meta.get("evaluation", {})
    releases = model["releases"]
    review = facts["review"]
    name = f"ai-act-{model['model_id']}-v{model['version']}"
    return Document(
        name=name,
        title=f"EU AI Act technical documentation: {model['model_id']} version {model['version']}",
        anchor="Regulation (EU) 2024/1689, Art. 11 and Annex IV (technical documentation)",
        sections=(
            Section(
                "Intended purpose",
                paragraphs=(
                    f"Visual anomaly detection on parts at {facts['site_id']}: "
                    "each image gets a score; parts "
                    "scoring above the threshold are flagged as defective for a person to act on. The system "
                    "does not process biometric data and takes no decision about people.",
                ),
            ),
            Section(
                "Model identity",
                bullets=_fields(
                    (
                        ("model graph sha256", model["sha256"]),
                        ("signed by key", model["signer_key_id"]),
                        ("method", _fmt(meta.get("method"))),
                        ("backbone", _fmt(meta.get("backbone"))),
                        ("engine version", _fmt(meta.get("engine_version"))),
                        ("created", _fmt(meta.get("created_at"))),
                    ),
                ),
            ),
            Section(
                "Training data",
                bullets=_fields(
                    (
                        ("digest (sha256 over names and file digests)", _fmt(training.get("sha256"))),
                        ("images", _fmt(training.get("image_count"))),
                        ("source", _fmt(training.get("description")) or "images of the plant's own parts"),
                    ),
                ),
                paragraphs=(
                    "Trained on site, on the plant's own images of good parts; no data left the plant.",
                ),
            ),
            Section(
                "Metrics and the dataset they were measured on",
                bullets=_fields(
                    (
                        ("dataset", _fmt(evaluation.get("dataset")) or "not recorded"),
                        ("image AUROC", _fmt(evaluation.get("image_auroc"))),
                        ("pixel AUROC", _fmt(evaluation.get("pixel_auroc"))),
                        ("recall at 1 % false rejects", _fmt(evaluation.get("recall_at_1pct_frr"))),
                        (
                            "good / defect images",
                            f"{evaluation.get('good_count', 0)} / {evaluation.get('defect_count', 0)}",
                        ),
                    ),
                ),
            ),
            Section(
                "Threshold and its calibration",
                bullets=_fields(
                    (
                        ("threshold", _fmt(threshold.get("value"))),
                        ("method", _fmt(threshold.get("method"))),
                        ("target false-reject rate", _fmt(threshold.get("target_frr"))),
                        (
                            "validation good / defect images",
                            f"{threshold.get('validation_good_count', 0)} / "
                            f"{threshold.get('validation_defect_count', 0)}",
                        ),
                        ("validation false-reject rate", _fmt(threshold.get("validation_frr"))),
                        ("validation recall", _fmt(threshold.get("validation_recall"))),
                        ("operating point", _operating_point(threshold)),
                    ),
                ),
            ),
            Section(
                "Human oversight",
                paragraphs=(
                    "The review workflow (lineguard.server.review, docs/review.md) puts every alert and "
                    "per-part verdict before a person, who acknowledges it and confirms or overrules it; the "
                    "AI's proposal is kept beside the person's outcome and every step is audited.",
                ),
                bullets=(
                    "A flagged part is an alert for a person; the system stops nothing on its own.",
                    f"An item nobody acknowledges within {review['escalate_after_minutes']} minutes is "
                    f"escalated to the {review['escalate_to']} role.",
                    "Scores within the uncertain margin below the threshold are marked uncertain for review.",
                    "Quality engineers and supervisors open the redacted evidence image of each failed part.",
                    "A model reaches a line only after a second person approved it (four eyes).",
                ),
            ),
            Section(
                "Approvals",
                table=Table(
                    ("registered by", "registered at", "state", "decided by", "decided at"),
                    (
                        (
                            model["registered_by"],
                            model["registered_at"],
                            model["state"],
                            _fmt(model["decided_by"]),
                            _fmt(model["decided_at"]),
                        ),
                    ),
                ),
            ),
            Section(
                "Deployments",
                table=Table(
                    ("release", "kind", "lines", "nodes", "by", "at"),
                    tuple(
                        (
                            str(r["release"]),
                            r["kind"],
                            ", ".join(r["lines"]) or "—",
                            ", ".join(r["nodes"]) or "—",
                            r["by"],
                            r["at"],
                        )
                        for r in releases
                    ),
                ),
            ),
            Section("Known limitations", bullets=_LIMITATIONS),
        ),
    )


def ai_act_files(facts: Facts) -> list[Document]:
    """One file per model version that was ever deployed (released to a line or node)."""
    return [_ai_act(facts, m) for m in facts["models"] if m["releases"]]


def lookup(facts: Facts, path: str) -> Any:
    value: Any = facts
    for part in path.split("."):
        value = value[part]
    return value


def _value(facts: Facts, path: str) -> str:
    value = lookup(facts, path)
    if isinstance(value, list):
        return ", ".join(f"{r['scheme']}://{r['host']}:{r['port']}" for r in value) or "none"
    return str(value)


def vendor_answers(facts: Facts) -> Document:
    sections = [
        Section(
            "Answers",
            paragraphs=(
                "Each answer is backed by the configuration value or the automated test it rests on.",
            ),
        )
    ]
    for a in VENDOR_ANSWERS:
        answer = a.answer.format(value=_value(facts, a.config)) if a.config else a.answer
        backing = []
        if a.config:
            backing.append(f"configuration: {a.config} = {_value(facts, a.config)}")
        if a.test:
            path, _, test = a.test.partition("::")
            backing.append(f"test: {test} in {path}")
        sections.append(Section(a.question, paragraphs=(answer,), bullets=tuple(backing)))
    return Document(
        name="vendor-assessment",
        title=f"Vendor assessment answers: LineGuard {facts['software_version']} at {facts['site_id']}",
        anchor="Supplier due diligence (GDPR Art. 28(1), 32; NIS2 Art. 21(2)(d))",
        sections=tuple(sections),
    )


def architecture_pack(facts: Facts) -> Document:
    s = facts["security"]
    cams = facts["cameras"]
    egress = facts["egress"]
    return Document(
        name="architecture",
        title=f"Architecture pack for an independent assessor: {facts['site_id']}",
        anchor="Supports GDPR Art. 32, EU AI Act Annex IV(2) and NIS2 Art. 21 assessments",
        sections=(
            Section(
                "Data flows",
                bullets=(
                    "Camera -> edge node: frames; privacy zones blacked out and people redacted at capture.",
                    "Edge node: inference, decision, encrypted evidence (kept on the node), outbox.",
                    f"Edge node -> plant server (HTTPS, mTLS, port {s['port']}): "
                    "results, alerts, heartbeats; "
                    "evidence images only on request of a person allowed to see them.",
                    "Plant server -> browsers (HTTPS): dashboard and JSON API, by role.",
                    "Plant server -> outside: only destinations on the egress allowlist ("
                    + (", ".join(f"{r['scheme']}://{r['host']}:{r['port']}" for r in egress) or "none")
                    + ").",
                ),
            ),
            Section(
                "Trust zones",
                table=Table(
                    ("zone", "holds", "enters through"),
                    (
                        ("edge node", "frames (memory), encrypted evidence, node key", "camera network"),
                        (
                            "plant server",
                            "results, accounts, audit log, keyring, registry",
                            f"TLS {s['min_tls_version']}+",
                        ),
                        ("browser", "nothing stored; session cookie", "sign-in with MFA"),
                    ),
                ),
            ),
            Section(
                "Ports",
                table=Table(
                    ("listener", "address", "port"),
                    (
                        ("plant server (HTTPS)", s["bind_host"], str(s["port"])),
                        ("edge metrics (Prometheus)", "node loopback by default", "9464"),
                    ),
                ),
            ),
            Section(
                "Certificates",
                bullets=(
                    "Plant CA (private key encrypted at rest); "
                    f"server certificate for {', '.join(s['server_names'])}.",
                    f"Node client certificates valid {s['node_cert_days']} days, "
                    "renewed at 2/3 of their life.",
                ),
            ),
            Section(
                "Key custody",
                bullets=(
                    f"Key-encryption keys in the {s['keyring_backend']} keyring; "
                    "data keys wrapped per record.",
                    "Audit log signed with an Ed25519 key sealed under the keyring; "
                    "its public key is published.",
                    f"Model updates through TUF; a new root needs {s['tuf_root_threshold']} signatures; "
                    f"timestamps expire after {s['tuf_timestamp_days']} days.",
                    "Each edge node holds its own key-encryption key for evidence.",
                ),
            ),
            Section(
                "Inventory",
                paragraphs=(
                    f"{len(cams)} cameras on {len({c['node'] for c in cams})} nodes; "
                    f"{len(facts['models'])} registered model versions; database: {s['database']}.",
                ),
            ),
        ),
    )
