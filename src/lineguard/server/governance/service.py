"""Governance services: keyword-only functions over a session, each owning its transaction.

* :func:`doctor` — gather the live state, run every check, return the report.
* :func:`current_facts` — the facts the documents would be rendered from now.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from lineguard.config.secrets import DEMO_MODE_ENV
from lineguard.config.server import ServerConfig
from lineguard.server.governance.doctor import DoctorReport, run_doctor
from lineguard.server.governance.facts import facts_sha256, plant_facts
from lineguard.server.governance.state import PlantState, gather

__all__ = ["current_facts", "doctor"]


def current_facts(
    session: Session, *, settings: ServerConfig, now: datetime | None = None
) -> tuple[PlantState, dict[str, Any]]:
    state = gather(session, settings, now=now)
    return state, plant_facts(state)


def doctor(
    session: Session, *, settings: ServerConfig, now: datetime | None = None, demo: bool | None = None
) -> DoctorReport:
    """The doctor's report; ``demo`` defaults to whether this process runs in demo mode."""
    state, facts = current_facts(session, settings=settings, now=now)
    in_demo = os.environ.get(DEMO_MODE_ENV) == "1" if demo is None else demo
    return run_doctor(state, facts_sha256=facts_sha256(facts), demo=in_demo)
