"""PPE compliance as counts, never identity: helmet and hi-vis vest per zone and hour.

A PPE camera (``edge.yaml`` ``ppe_cameras``, off unless ``enabled``) sends only
:class:`~lineguard.contracts.ppe.PpeCounts` — per zone and hour, people seen and how many
lacked each required item, small counts suppressed. The flow, one module each:

``counter`` (privacy-masked frame + people from the node's redaction detector → zone,
skip rules, privacy wins) → ``features`` + ``classifier`` (the person's crop → wears each
item?) → ``tally`` (hourly integers → suppressed messages). ``render`` draws the generated
workers the classifier is trained (``train``) and measured (``bench/bench_ppe.py``) on.

No identification: no face is looked at beyond a 6×6 colour grid of the head band, no
embedding, no track, nothing kept per person; the person detector is the one redaction
already runs. This package imports no other edge package: the pipeline
(``edge/pipeline/ppe.py``) wires the detector, the frames and the outbox to it.
"""

from __future__ import annotations

from lineguard.edge.ppe.classifier import MODEL_SHA256, PpeClassifier
from lineguard.edge.ppe.counter import PersonBox, PersonFinder, PpeCounter, SkipCounts, check_zones_fit
from lineguard.edge.ppe.fake import ScriptedFinder
from lineguard.edge.ppe.features import crop_person, features
from lineguard.edge.ppe.tally import HourlyTally, hour_of

__all__ = [
    "MODEL_SHA256",
    "HourlyTally",
    "PersonBox",
    "PersonFinder",
    "PpeClassifier",
    "PpeCounter",
    "ScriptedFinder",
    "SkipCounts",
    "check_zones_fit",
    "crop_person",
    "features",
    "hour_of",
]
