"""Governance from the live configuration: the doctor, the documents, access reviews, config audit.

* :func:`doctor` — the deployment checklist as a self-check (``lineguard doctor``), each
  item pass / warn / fail with its evidence and the command that fixes it.
* :func:`current_facts` — the facts (cameras, retention, roles per data category,
  models, owners) every governance document is rendered from; never hand-kept text.

docs/governance.md explains each document, its legal anchor and how to keep it current.
"""

from lineguard.server.governance.checklist import GROUPS, CheckResult, Status
from lineguard.server.governance.doctor import DoctorReport
from lineguard.server.governance.facts import facts_sha256
from lineguard.server.governance.service import current_facts, doctor
from lineguard.server.governance.state import PlantState

__all__ = [
    "GROUPS",
    "CheckResult",
    "DoctorReport",
    "PlantState",
    "Status",
    "current_facts",
    "doctor",
    "facts_sha256",
]
