"""The doctor's checklist: result type, groups and the registry checks add themselves to.

Each check is a pure function of :class:`DoctorInputs` (the gathered
:class:`~.state.PlantState` and the digest of the facts the documents would show)
returning ``(status, evidence, fix)``: ``pass``, ``warn`` or ``fail``, what it saw, and
the command that fixes it. :func:`check` registers one under a group of the brief
(network, access, data governance, worker communication, vendor assessment, ongoing
security); :mod:`.doctor` runs them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from lineguard.server.governance.state import PlantState

__all__ = [
    "CHECKS",
    "GROUPS",
    "Check",
    "CheckResult",
    "DoctorInputs",
    "Registered",
    "Status",
    "age_days",
    "check",
]

Status = Literal["pass", "warn", "fail"]

GROUPS: dict[str, str] = {
    "network": "Network",
    "access": "Access",
    "data_governance": "Data governance",
    "worker_communication": "Worker communication",
    "vendor_assessment": "Vendor assessment",
    "ongoing_security": "Ongoing security",
}


@dataclass(frozen=True, slots=True)
class CheckResult:
    id: str
    group: str
    title: str
    status: Status
    evidence: str
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class DoctorInputs:
    """What a check sees: the live state and the digest of the facts the documents would show."""

    state: PlantState
    facts_sha256: str


#: A check returns (status, evidence, fix); the registry adds its id, group and title.
Check = Callable[[DoctorInputs], tuple[Status, str, str | None]]


@dataclass(frozen=True, slots=True)
class Registered:
    id: str
    group: str
    title: str
    run: Check


CHECKS: list[Registered] = []


def check(check_id: str, group: str, title: str) -> Callable[[Check], Check]:
    """Register a check under ``group``; checks report in registration order."""
    if group not in GROUPS:
        msg = f"unknown doctor group {group!r}"
        raise ValueError(msg)

    def add(func: Check) -> Check:
        CHECKS.append(Registered(check_id, group, title, func))
        return func

    return add


def age_days(now: datetime, then: datetime) -> float:
    return (now - then) / timedelta(days=1)
