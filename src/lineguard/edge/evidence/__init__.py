"""Evidence: redacted images kept on the node, encrypted per object and signed at capture."""

from __future__ import annotations

from lineguard.edge.evidence.signer import EvidenceSigner, verify_signature
from lineguard.edge.evidence.store import EVIDENCE_CATEGORY, EvidenceCategory, EvidenceRecord, EvidenceStore

__all__ = [
    "EVIDENCE_CATEGORY",
    "EvidenceCategory",
    "EvidenceRecord",
    "EvidenceSigner",
    "EvidenceStore",
    "verify_signature",
]
