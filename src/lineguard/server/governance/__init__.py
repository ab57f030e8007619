"""Governance from the live configuration: the doctor, the documents, access reviews, config audit.

* :func:`doctor` — the deployment checklist as a self-check (``lineguard doctor``), each
  item pass / warn / fail with its evidence and the command that fixes it.
* :func:`build_documents` — every governance document as HTML and PDF with a manifest
  whose sha256 is audited (``lineguard governance build``); :func:`compose_all` and
  :func:`render_html` / :func:`render_pdf` for one document on demand (the dashboard).
* :func:`start_review` / :func:`sign_off_review` — periodic access reviews
  (``lineguard access-review``), start and sign-off audited, revocations through auth.
* :func:`record_config_changes` — a changed ``server.yaml`` / ``edge.yaml`` audited
  setting by setting at start (``scheduled.lifespan``) and on demand.
* :func:`current_facts` — the facts (cameras, retention, roles per data category,
  models, owners) every governance document is rendered from; never hand-kept text.

docs/governance.md explains each document, its legal anchor and how to keep it current.
"""

from lineguard.server.governance.access_review import check_reviewer, get_review, start_review
from lineguard.server.governance.access_review import sign_off as sign_off_review
from lineguard.server.governance.access_review import status as access_review_status
from lineguard.server.governance.build import (
    BuildResult,
    build_documents,
    compose_all,
    record_notice_publication,
)
from lineguard.server.governance.checklist import GROUPS, CheckResult, Status
from lineguard.server.governance.config_audit import ConfigChange, record_config_changes
from lineguard.server.governance.doctor import DoctorReport
from lineguard.server.governance.document import Document, render_html, render_pdf
from lineguard.server.governance.facts import facts_sha256
from lineguard.server.governance.service import current_facts, doctor
from lineguard.server.governance.state import PlantState

__all__ = [
    "GROUPS",
    "BuildResult",
    "CheckResult",
    "ConfigChange",
    "DoctorReport",
    "Document",
    "PlantState",
    "Status",
    "access_review_status",
    "build_documents",
    "check_reviewer",
    "compose_all",
    "current_facts",
    "doctor",
    "facts_sha256",
    "get_review",
    "record_config_changes",
    "record_notice_publication",
    "render_html",
    "render_pdf",
    "sign_off_review",
    "start_review",
]
