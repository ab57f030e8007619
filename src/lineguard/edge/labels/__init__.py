"""Label and barcode verification: is the label on this part the one its order expects?

A label stage reads the label in a configured region of the frame — its code with zxing-cpp
(:mod:`.codes`, GS1 element strings parsed and checked in :mod:`.gs1`), its printed text
with RapidOCR (:mod:`.ocr`) — and compares what it read with the expected label of the
current order (:mod:`.expected`: the stage's table or a MES/ERP hook) in :mod:`.verify`.
A mismatch, an unreadable or missing field, an upside-down label or a bad checksum fails
the label naming the field; :mod:`.stage` makes the check a camera stage (``kind: label``).
docs/inspection.md explains the check and its limits.
"""

from __future__ import annotations

from lineguard.edge.labels.codes import CodeRead, CodeReader
from lineguard.edge.labels.expected import ExpectedLabelSource, TableExpectedLabels
from lineguard.edge.labels.gs1 import Gs1Error, Gs1Fields, parse_element_string
from lineguard.edge.labels.ocr import RapidTextReader, TextLine, TextReader
from lineguard.edge.labels.stage import LabelStage, build_label_stage
from lineguard.edge.labels.verify import LabelCheck, LabelFailure, LabelVerifier, Reason

__all__ = [
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
]
