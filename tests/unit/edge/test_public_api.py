"""What each edge package exports is deliberate: this pins it."""

from __future__ import annotations

import importlib

import pytest

EXPORTS = {
    "lineguard.edge.capture": {
        "DEFECT_KINDS",
        "SOURCE_TYPES",
        "DefectKind",
        "FolderFrameSource",
        "FrameTruth",
        "PrivacyMask",
        "StreamFrameSource",
        "SyntheticLine",
        "VideoFileFrameSource",
        "build_source",
        "render_part",
        "write_mvtec_dataset",
    },
    "lineguard.edge.infer": {"ModelCache", "StaticRunner", "load_runner"},
    "lineguard.edge.decide": {
        "ClosedPart",
        "FrameJudgement",
        "PartDebouncer",
        "PartFuser",
        "PartIdReader",
        "PartStep",
        "Sighting",
        "StationMonitor",
        "TriggerInput",
        "TriggerListener",
        "classify",
        "defect_regions",
        "part_id_reader",
    },
    "lineguard.edge.evidence": {
        "EVIDENCE_CATEGORY",
        "EvidenceCategory",
        "EvidenceRecord",
        "EvidenceSigner",
        "EvidenceStore",
        "verify_signature",
    },
    "lineguard.edge.outbox": {
        "BATCH_PATH",
        "HEARTBEAT_PATH",
        "BatchRejectedError",
        "HttpsTransport",
        "MemoryIngestServer",
        "MemoryTransport",
        "Outbox",
        "OutboxItem",
        "OutboxSender",
        "Transport",
        "TransportUnavailableError",
        "build_batch",
    },
    "lineguard.edge.workers": {"BackpressureQueue", "FrameQueue", "LatestQueue", "Worker"},
    "lineguard.edge.evidence.gate": {"EvidenceGate", "EvidenceWriter"},
    "lineguard.edge.evidence.trainingset": {
        "DEFECT_FALLBACK_CLASS",
        "AssembledSet",
        "ReviewLabel",
        "Skipped",
        "assemble",
        "read_labels",
    },
    "lineguard.edge.preprocess": {"FrameCheck", "crop_roi"},
    "lineguard.edge.pipeline": {
        "Arrival",
        "BatchingRunner",
        "CameraStats",
        "CaptureWorker",
        "InspectWorker",
        "batching",
    },
    "lineguard.edge.labels": {
        "CodeRead",
        "CodeReader",
        "ExpectedLabelSource",
        "Gs1Error",
        "Gs1Fields",
        "LabelCheck",
        "LabelFailure",
        "LabelStage",
        "LabelVerifier",
        "RapidTextReader",
        "Reason",
        "TableExpectedLabels",
        "TextLine",
        "TextReader",
        "build_label_stage",
        "parse_element_string",
    },
    "lineguard.edge.drift": {
        "IMAGE_STATISTICS",
        "DriftCause",
        "DriftFinding",
        "DriftMonitor",
        "ImageStats",
        "image_stats",
    },
    "lineguard.edge.stages": {
        "STAGE_BUILDERS",
        "PartContext",
        "ScriptedStage",
        "ScriptedViewsStage",
        "StageRunner",
        "build_stages",
    },
    "lineguard.edge.thermal": {
        "Band",
        "MaintenanceRecommendation",
        "NormalBand",
        "RoiReading",
        "ThermalAlarm",
        "ThermalFolderReader",
        "ThermalFrame",
        "ThermalFrameError",
        "ThermalMonitor",
        "ThermalObservation",
        "ThermalReporter",
        "ThermalStream",
        "read_thermal_file",
        "to_celsius",
    },
}


@pytest.mark.parametrize("module", sorted(EXPORTS))
def test_exports_are_pinned_and_importable(module: str) -> None:
    mod = importlib.import_module(module)
    assert set(mod.__all__) == EXPORTS[module]
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name} is listed but missing"
