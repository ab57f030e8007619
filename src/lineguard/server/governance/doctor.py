"""``lineguard doctor``: the deployment checklist as a self-check over the live state.

:func:`run_doctor` runs every registered check (:mod:`.checks_network`,
:mod:`.checks_replicas`, :mod:`.checks_access`, :mod:`.checks_plant`) over one gathered
:class:`~.state.PlantState` and returns a :class:`DoctorReport` grouped as the brief
groups it. A report with any ``fail`` makes ``lineguard doctor`` exit non-zero, for
automation; the dashboard's governance page shows the same report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from lineguard import __version__
from lineguard.crypto import utc_text
from lineguard.server.governance import checks_access, checks_network, checks_plant, checks_replicas
from lineguard.server.governance.checklist import (
    CHECKS,
    GROUPS,
    CheckResult,
    DoctorInputs,
    Registered,
    Status,
)
from lineguard.server.governance.state import PlantState

__all__ = ["CHECK_MODULES", "DEMO_LIMITS", "DoctorReport", "run_doctor"]

#: The modules whose import registered the checks (named so the import is not unused).
CHECK_MODULES = (checks_network, checks_replicas, checks_access, checks_plant)


@dataclass(frozen=True, slots=True)
class DoctorReport:
    results: tuple[CheckResult, ...]
    software_version: str
    checked_at: datetime

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.status == "fail")

    def status_of(self, check_id: str) -> Status:
        return next(r.status for r in self.results if r.id == check_id)

    def to_json(self) -> dict[str, Any]:
        counts = {s: sum(1 for r in self.results if r.status == s) for s in ("pass", "warn", "fail")}
        return {
            "software_version": self.software_version,
            "checked_at": utc_text(self.checked_at),
            "ok": not self.failed,
            "counts": counts,
            "groups": [
                {
                    "id": group,
                    "title": title,
                    "checks": [asdict(r) for r in self.results if r.group == group],
                }
                for group, title in GROUPS.items()
            ],
        }


#: What a demo cannot have, by check: in the demo these fail as warnings saying so.
DEMO_LIMITS: dict[str, str] = {
    "access.mfa": "its accounts enroll TOTP at their first sign-in",
    "workers.notice_published": "no worker reads a demo's notice",
    "security.access_review": "nobody has reviewed the accounts a demo just created",
}


def _result(entry: Registered, inputs: DoctorInputs, *, demo: bool) -> CheckResult:
    status, evidence, fix = entry.run(inputs)
    if demo and status == "fail" and entry.id in DEMO_LIMITS:
        status, evidence = "warn", f"{evidence} (a demo cannot have this: {DEMO_LIMITS[entry.id]})"
    return CheckResult(entry.id, entry.group, entry.title, status, evidence, fix)


def run_doctor(state: PlantState, *, facts_sha256: str, demo: bool = False) -> DoctorReport:
    """Run every check; ``demo``: the failures a demo cannot avoid (:data:`DEMO_LIMITS`) warn."""
    inputs = DoctorInputs(state, facts_sha256)
    results = [_result(c, inputs, demo=demo) for c in CHECKS]
    order = list(GROUPS)
    results.sort(key=lambda r: order.index(r.group))
    return DoctorReport(tuple(results), __version__, state.now)
