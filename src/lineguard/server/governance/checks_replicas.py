"""Doctor checks of a multi-replica deployment: every replica registered, beating, on time, reachable.

Only with several server processes (``http.replicas`` or ``http.workers`` above 1, on
PostgreSQL): each process registers its internal relay address in
``evidence_relay_peers`` and beats every 3 s (docs/deployment.md). The doctor reads
those rows (ages on the database's clock), dials each advertised address over TCP, and
reads each replica's last measured clock skew and its count of refused relay
connections (audited in bulk as ``replica.relay_refused``), and which of them hold the
plant CA key (``network.ca_issuers``: ``LINEGUARD_PKI_ISSUER``, docs/deployment.md).
"""

from __future__ import annotations

from lineguard.server.evidence_views import SKEW_WARN_S, STALE_S
from lineguard.server.governance.checklist import DoctorInputs, Status, check

__all__ = ["expected_processes"]

Result = tuple[Status, str, str | None]


def expected_processes(i: DoctorInputs) -> int:
    http = i.state.settings.http
    return http.replicas * http.workers


@check("network.replicas", "network", "Server replicas: registered, beating, on time, reachable")
def replicas(i: DoctorInputs) -> Result:
    expected = expected_processes(i)
    if expected == 1:
        return ("pass", "one server process (http.replicas and http.workers are 1): no relay to check", None)
    if not (i.state.settings.database.url or "").startswith("postgresql"):
        # several workers on SQLite share no relay (opening a view answers 409 there)
        return ("pass", f"{expected} worker processes on SQLite: evidence views are not relayed", None)
    live = [r for r in i.state.replicas if not r.revoked and r.heartbeat_age_s < STALE_S]
    problems = [
        f"{r.replica_id} at {r.address}: last heartbeat {r.heartbeat_age_s:.0f} s ago"
        for r in i.state.replicas
        if not r.revoked and r.heartbeat_age_s >= STALE_S
    ]
    problems += [
        f"{r.replica_id} at {r.address} unreachable ({r.unreachable})" for r in live if r.unreachable
    ]
    summary = f"{len(live)} of {expected} server processes beating (http.replicas x http.workers)"
    if len(live) < expected or problems:
        evidence = "; ".join([summary, *problems])
        fix = (
            "start the missing replicas; open each replica's http.internal_port between replica hosts "
            "(or set http.internal_advertised_host/port to the address they reach); GET /api/v1/replicas"
        )
        return ("fail", evidence, fix)
    skewed = [f"{r.replica_id} {r.clock_skew_s:+.1f} s" for r in live if abs(r.clock_skew_s) > SKEW_WARN_S]
    if skewed:
        return (
            "warn",
            f"{summary}; host clocks off the database's by more than {SKEW_WARN_S:g} s: {', '.join(skewed)}",
            "run NTP on every replica host and on the database host",
        )
    worst = max((abs(r.clock_skew_s) for r in live), default=0.0)
    return ("pass", f"{summary}, each reachable on its relay address, clocks within {worst:.1f} s", None)


@check("network.relay_refusals", "network", "Refused connections to the internal relay")
def relay_refusals(i: DoctorInputs) -> Result:
    refused = [(r.replica_id, r.refused_connections) for r in i.state.replicas if r.refused_connections]
    if not refused:
        return ("pass", "no registered replica refused a relay connection since it started", None)
    counts = ", ".join(f"{replica_id}: {n}" for replica_id, n in refused)
    return (
        "warn",
        f"relay connections refused since each replica started: {counts}",
        "see replica.relay_refused in the audit log (source address, reason, what was presented); "
        "only replica hosts should reach http.internal_port",
    )


@check("network.ca_issuers", "network", "Plant CA issuers: which server hosts hold the CA key")
def ca_issuers(i: DoctorInputs) -> Result:
    if expected_processes(i) == 1 or not i.state.replicas:
        return ("pass", "one server process: it holds the plant CA key and signs for itself", None)
    live = [r for r in i.state.replicas if not r.revoked and r.heartbeat_age_s < STALE_S]
    by_role = {
        role: [r.replica_id for r in live if r.ca_role == role] for role in ("leader", "issuer", "none")
    }
    named = {role: ", ".join(ids) or "none" for role, ids in by_role.items()}
    evidence = (
        f"issuer leader: {named['leader']}; standby issuers: {named['issuer']}; "
        f"without the CA key: {named['none']}"
    )
    if not by_role["leader"] and not by_role["issuer"]:
        return (
            "fail",
            f"no live server process can sign: {evidence}",
            "start a replica with LINEGUARD_PKI_ISSUER=true and the CA passphrase: until then node "
            "enrollment and renewal answer 503 (nodes retry and keep their certificates)",
        )
    if not by_role["none"]:
        return (
            "warn",
            f"every replica holds the plant CA key ({evidence})",
            "set LINEGUARD_PKI_ISSUER=false and remove the CA passphrase on the replicas that need not "
            "sign: one issuer host (and a standby) is enough",
        )
    return ("pass", evidence, None)
