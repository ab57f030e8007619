"""PPE counting in the governance documents, from the live edge configuration.

Only an *enabled* PPE camera (``ppe_cameras[].ppe.enabled``) is processing; while none is,
the documents say nothing about PPE (a configured but disabled camera is not opened). When
one is, the record of processing gains the activity with its legal basis (quoted from
edge.yaml), what is counted, the minimum counts of node and server, the retention and who
reads the counts; each affected line's worker notice gains a section in every language;
and an EU AI Act file describes the classifier and its limits.
"""

from __future__ import annotations

from typing import Any

from lineguard.server.governance.catalog import Catalog
from lineguard.server.governance.document import Document, Section, Table

__all__ = ["enabled_ppe", "ppe_ai_act_files", "ppe_notice_sections", "ppe_processing_sections"]

Facts = dict[str, Any]


def enabled_ppe(facts: Facts, *, site: str | None = None, line: str | None = None) -> list[Facts]:
    return [
        p
        for p in facts.get("ppe", [])
        if p["enabled"] and (site is None or p["site"] == site) and (line is None or p["line"] == line)
    ]


def _zones(camera: Facts, name: Any = str) -> str:
    return "; ".join(f"{z['name']}: {', '.join(name(i) for i in z['required'])}" for z in camera["zones"])


def _readers(facts: Facts) -> list[str]:
    return next((i["readers"] for i in facts["inventory"] if i["key"] == "ppe_counts"), [])


def ppe_processing_sections(facts: Facts) -> tuple[Section, ...]:
    cameras = enabled_ppe(facts)
    if not cameras:
        return ()
    days = facts["retention"]["ppe_counts_days"]
    return (
        Section(
            "PPE compliance counting (enabled)",
            paragraphs=(
                "Purpose: workplace safety — how often the protective equipment required in a zone "
                "(hard hat, high-visibility vest) is missing, per zone and hour, so that supervisors can "
                "act on places and times, never on persons.",
                "Data subjects: workers who walk through a PPE zone. Data: per zone and hour, the number "
                "of people seen (sightings in sampled frames) and how many lacked each required item. "
                "No image, crop, position, track or per-person record is kept or sent; the person "
                "detector is the one that redacts evidence; nobody is identified.",
                f"Small counts are suppressed: below the camera's minimum on the node and below "
                f"{facts['ppe_server_min_count']} again on the server. Counts are kept {days} days and "
                f"can be read by: {', '.join(_readers(facts)) or 'nobody'} (each read is audited).",
            ),
            table=Table(
                ("line", "node", "camera", "zones: required items", "legal basis", "minimum count"),
                tuple(
                    (
                        c["line"],
                        c["node"],
                        c["camera"],
                        _zones(c),
                        c["legal_basis"],
                        str(max(c["min_count"], facts["ppe_server_min_count"])),
                    )
                    for c in cameras
                ),
            ),
            bullets=(
                "Accuracy: the classifier was trained and measured on generated images only "
                "(docs/benchmarks.md, PPE compliance); its accuracy on this plant's workers is not "
                "measured. The counts are indications for safety work, not evidence about anyone.",
                "Not used to assess, rank or sanction workers; no individual can be singled out from "
                "the counts.",
            ),
        ),
    )


def ppe_notice_sections(facts: Facts, c: Catalog, site: str, line: str) -> tuple[Section, ...]:
    cameras = enabled_ppe(facts, site=site, line=line)
    if not cameras:
        return ()
    readers = ", ".join(c.t(f"role.{r}") for r in _readers(facts)) or c.t("notice.nobody")
    paragraphs = [
        c.t(
            "notice.ppe.camera",
            camera=cam["camera"],
            station=cam["station"],
            zones=_zones(cam, lambda item: c.t(f"notice.ppe.item.{item}")),
            min_count=max(cam["min_count"], facts["ppe_server_min_count"]),
        )
        for cam in cameras
    ]
    paragraphs += [c.t("notice.ppe.basis", basis=b) for b in sorted({cam["legal_basis"] for cam in cameras})]
    paragraphs += [
        c.t("notice.ppe.access", days=facts["retention"]["ppe_counts_days"], roles=readers),
        c.t("notice.ppe.accuracy"),
    ]
    return (Section(c.t("notice.ppe.heading"), paragraphs=tuple(paragraphs)),)


def ppe_ai_act_files(facts: Facts) -> list[Document]:
    cameras = enabled_ppe(facts)
    if not cameras:
        return []
    return [
        Document(
            name="ai-act-ppe-classifier",
            title="EU AI Act technical documentation: PPE classifier (edge)",
            anchor="Regulation (EU) 2024/1689, Art. 11 and Annex IV (technical documentation)",
            sections=(
                Section(
                    "Intended purpose",
                    paragraphs=(
                        f"Counting, per zone and hour at {facts['site_id']}, how many people seen in a "
                        "walkway zone lack a required hard hat or high-visibility vest. Output: hourly "
                        "aggregate counts only, small counts suppressed. It makes no decision about a "
                        "person, identifies nobody and is not used for workers' assessment.",
                    ),
                ),
                Section(
                    "Components",
                    bullets=(
                        "Person detector: the vendored MediaPipe body detector and segmentation model the "
                        "node already runs for redaction (no face detector, no landmarks kept).",
                        "Classifier: one logistic regression per item on colour and edge features of the "
                        "person's box (lineguard.edge.ppe; model file pinned by sha256 in the package).",
                    ),
                ),
                Section(
                    "Training and evaluation data",
                    paragraphs=(
                        "Generated images only (lineguard.edge.ppe.render: drawn workers with and without "
                        "PPE, with look-alike clothing, occlusion and lighting changes); no image of a real "
                        "person was used. Recall and precision on held-out generated data are in "
                        "docs/benchmarks.md (PPE compliance). Real-world accuracy is not measured.",
                    ),
                ),
                Section(
                    "Where it runs",
                    table=Table(
                        ("line", "node", "camera", "zones: required items", "legal basis"),
                        tuple(
                            (c["line"], c["node"], c["camera"], _zones(c), c["legal_basis"]) for c in cameras
                        ),
                    ),
                ),
                Section(
                    "Known limitations",
                    bullets=(
                        "A cap or beanie in helmet colours, fair hair, occlusion and poor light cause the "
                        "most errors; on generated data one missing helmet in six is not seen.",
                        "Sightings, not people: one person in view in several sampled frames counts several "
                        "times; shares are meaningful, totals are not headcounts.",
                        "Small or mostly hidden people are not detected and not counted.",
                    ),
                ),
            ),
        )
    ]
