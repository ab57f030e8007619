"""How fast each dashboard page gets its data with a million stored inspection events.

A real plant server (uvicorn, HTTPS, envelope encryption and the hash-chained audit log
on, as in production) on a database holding ``--events`` inspection events over 90 days
(3 lines x 3 cameras, with the matching hourly rollup), plus alerts, records with sealed
part ids and heartbeats sent through the real ingest service. A signed-in person per
role then loads each page's data the way the page's script does: ``GET /auth/me``, then
every API call the page makes, one after the other (a browser runs some in parallel, so
this is the slower bound). Each page is timed ``--repeat`` times; the script prints the
median and the worst warm load, and the ratio against the same page on a baseline
database of ``--baseline-events`` events measured in the same run (1.0: the page's cost
does not grow with the number of stored events).

    python bench/bench_dashboard.py                          # 1,000,000 events, SQLite
    python bench/bench_dashboard.py --engine postgresql      # the same on PostgreSQL

The bulk of the events is inserted straight into the tables (ingest speed is
bench_ingest.py's subject); what a page reads is what ingest would have written.
"""

from __future__ import annotations

import argparse
import random
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.e2e.plant: the same seeded server as the browser tests

import httpx  # noqa: E402
from tests.e2e.plant import (  # noqa: E402
    NODES,
    SITE,
    Plant,
    add_person,
    raise_alert,
    running_plant,
    seed_plant,
)

LINES = ["line-1", "line-2", "line-3"]
CLASSES = (["scratch", "dent", "crack", "stain", "chip"], [40, 25, 15, 12, 8])


def fill(plant: Plant, n_events: int) -> None:
    """``n_events`` raw events over 90 days with the hourly rollup that ingest would keep."""
    from sqlalchemy import insert

    from lineguard.server.ingest.models import ALL_PARTS, InspectionEventRow, RollupHourly

    rng = random.Random(7)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=8)
    start = end - timedelta(days=82)
    span_s = int((end - start).total_seconds())
    cameras = [
        (node.line_id, cam, node.node_id) for node in NODES.values() for cam in sorted(node.camera_ids)
    ]
    rollup: dict[tuple[str, str, str, datetime], list[int]] = {}
    received = datetime.now(UTC)
    done, t0 = 0, time.perf_counter()
    with plant.context.engine.begin() as conn:
        while done < n_events:
            rows = []
            for _ in range(min(20_000, n_events - done)):
                line, cam, node = cameras[rng.randrange(len(cameras))]
                at = start + timedelta(seconds=rng.randrange(span_s))
                roll = rng.random()
                verdict, cls = "pass", None
                if roll >= 0.92:
                    verdict = "fail" if roll < 0.98 else "uncertain"
                    cls = rng.choices(*CLASSES)[0]
                hour = at.replace(minute=0, second=0, microsecond=0)
                col = {"pass": 1, "fail": 2, "uncertain": 3}[verdict]
                for key in (ALL_PARTS, cls) if cls else (ALL_PARTS,):
                    acc = rollup.setdefault((line, cam, key, hour), [0, 0, 0, 0])
                    acc[0] += 1
                    acc[col] += 1
                rows.append(
                    {
                        "event_id": f"evt_bulk_{done}",
                        "idempotency_key": f"idk_bulk_{done}",
                        "node_id": node,
                        "site_id": SITE,
                        "line_id": line,
                        "station_id": "st-1",
                        "camera_id": cam,
                        "part_id_sealed": None,
                        "frame_id": done,
                        "captured_at": at,
                        "received_at": received,
                        "model_id": "mdl_tile",
                        "model_version": 3,
                        "model_sha256": "ab" * 32,
                        "verdict": verdict,
                        "anomaly_score": 0.7 if cls else 0.1,
                        "threshold": 0.5,
                        "regions": [] if cls is None else [{"defect_class": cls, "score": 0.7}],
                        "evidence_ref": None,
                        "latency_ms": 12.0,
                    }
                )
                done += 1
            conn.execute(insert(InspectionEventRow), rows)
            rate = done / (time.perf_counter() - t0)
            print(f"\r    stored {done:,}/{n_events:,} events ({rate:,.0f}/s)", end="", flush=True)
        print()
        conn.execute(
            insert(RollupHourly),
            [
                {
                    "site_id": SITE,
                    "line_id": k[0],
                    "camera_id": k[1],
                    "defect_class": k[2],
                    "hour": k[3],
                    "inspected": v[0],
                    "passed": v[1],
                    "failed": v[2],
                    "uncertain": v[3],
                }
                for k, v in rollup.items()
            ],
        )


class Browser:
    """What a page's script does, over one HTTPS connection with a session cookie."""

    def __init__(self, plant: Plant, username: str) -> None:
        self.client = httpx.Client(
            base_url=plant.url + "/api/v1", verify=ssl.create_default_context(cafile=str(plant.ca_file))
        )
        person = plant.people[username]
        body = self.client.post(
            "/auth/login", json={"username": username, "password": person.password}
        ).json()
        if body["state"] == "mfa_pending":
            body = self.client.post(
                "/auth/login/mfa", json={"code": person.code()}, headers={"X-CSRF-Token": body["csrf_token"]}
            ).json()
        self.csrf = body["csrf_token"]

    def get(self, path: str, **params: Any) -> Any:
        r = self.client.get(path, params=params)
        r.raise_for_status()
        return r.json()

    def post(self, path: str, body: Any) -> Any:
        r = self.client.post(path, json=body, headers={"X-CSRF-Token": self.csrf})
        r.raise_for_status()
        return r.json()


def pages(plant: Plant, alert_id: str, event_id: str) -> dict[str, tuple[str, Callable[[Browser], Any]]]:
    """Page → (who opens it, the API calls its script makes)."""
    now = datetime.now(UTC)

    def span(**delta: float) -> dict[str, str]:
        return {"start": (now - timedelta(**delta)).isoformat(), "end": now.isoformat()}

    def quarter() -> dict[str, str]:
        return span(days=90)

    return {
        "overview: last shift": (
            "quality",
            lambda b: (b.get("/auth/me"), b.get("/dashboard/quality", **span(hours=8), bucket="hour")),
        ),
        "overview: last week": (
            "quality",
            lambda b: (b.get("/auth/me"), b.get("/dashboard/quality", **span(days=7), bucket="day")),
        ),
        "defects: 90 days, all lines": (
            "quality",
            lambda b: (
                b.get("/auth/me"),
                b.get("/dashboard/pareto", **quarter()),
                b.get("/dashboard/defects", **quarter(), bucket="day"),
                b.get("/dashboard/quality", **quarter(), bucket="day", group_by="camera"),
            ),
        ),
        "alerts: latest 100": (
            "quality",
            lambda b: (b.get("/auth/me"), b.get("/dashboard/alerts", limit=100)),
        ),
        "record: from an alert": (
            "quality",
            lambda b: (b.get("/auth/me"), b.get(f"/dashboard/alerts/{alert_id}")),
        ),
        "record: evidence request": (
            "quality",
            lambda b: b.post(f"/dashboard/records/{event_id}/evidence", {"purpose": "bench"}),
        ),
        "nodes": ("quality", lambda b: (b.get("/auth/me"), b.get("/dashboard/nodes"))),
        "models": (
            "quality",
            lambda b: (b.get("/auth/me"), b.get("/registry/models"), b.get("/registry/releases")),
        ),
        "users and roles": ("admin", lambda b: (b.get("/auth/me"), b.get("/auth/users"))),
        "audit log (verify + 100 entries)": (
            "auditor",
            lambda b: (b.get("/auth/me"), b.get("/audit/verification"), b.get("/audit/entries", limit=100)),
        ),
        "retention": (
            "admin",
            lambda b: (
                b.get("/auth/me"),
                b.get("/retention/policy"),
                b.get("/retention/sweeps", limit=20),
                b.get("/retention/holds"),
            ),
        ),
    }


@contextmanager
def loaded_plant(engine: str, n_events: int, root: Path) -> Iterator[tuple[Plant, str, str]]:
    url = None
    pg = None
    if engine == "postgresql":
        from tests.support.postgres import postgres_cluster

        pg = postgres_cluster()
        base = pg.__enter__()
        import psycopg

        with psycopg.connect(
            base.replace("postgresql+psycopg://", "postgresql://") + "/postgres", autocommit=True
        ) as c:
            c.execute(f'CREATE DATABASE "bench_{n_events}"')
        url = f"{base}/bench_{n_events}"
    try:
        with running_plant(root / f"server-{n_events}", database_url=url, seed=False) as plant:
            from lineguard.server.auth.catalog import Role

            for username, role in [
                ("bench.qe", Role.QUALITY_ENGINEER),
                ("bench.admin", Role.IT_ADMINISTRATOR),
                ("bench.audit", Role.AUDITOR),
            ]:
                add_person(plant, username, (role,))
            # The last week through the real ingest service, the rest in bulk.
            seed_plant(plant, per_hour=2, hours=24 * 7)
            seeded = sum(len(node.camera_ids) for node in NODES.values()) * 2 * 24 * 7
            fill(plant, max(0, n_events - seeded))
            if engine == "postgresql":
                from sqlalchemy import text

                with plant.context.engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
            # The newest alert and its record: stored last, so a lookup by id that scans
            # the table pays in full (the first-seeded records would be found at once).
            alert_id = raise_alert(plant)
            from sqlalchemy import select

            from lineguard.server.ingest.models import AlertRow

            with plant.session() as session:
                event_id = session.scalars(
                    select(AlertRow.event_id).where(AlertRow.alert_id == alert_id)
                ).one()
            # Each timed evidence request queues a view for a node that is not there: lift the
            # relay's cap on waiting views (8 per node) so every repetition is measured.
            from lineguard.server.evidence_views.relay import RelaySettings

            plant.context.evidence_views.relay.settings = RelaySettings(
                max_open_per_node=100_000, max_open=100_000
            )
            yield plant, alert_id, str(event_id)
    finally:
        if pg is not None:
            pg.__exit__(None, None, None)


def measure(plant: Plant, alert_id: str, event_id: str, repeat: int) -> dict[str, tuple[float, float]]:
    browsers = {
        "quality": Browser(plant, "bench.qe"),
        "admin": Browser(plant, "bench.admin"),
        "auditor": Browser(plant, "bench.audit"),
    }
    out = {}
    for name, (who, load) in pages(plant, alert_id, event_id).items():
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            load(browsers[who])
            times.append(1000 * (time.perf_counter() - t0))
        out[name] = (statistics.median(times), max(times[1:]))
    for b in browsers.values():
        b.client.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--baseline-events", type=int, default=10_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="lineguard-bench-dashboard-") as tmp:
        for n in (args.baseline_events, args.events):
            print(f"{args.engine}: {n:,} stored events")
            t0 = time.perf_counter()
            with loaded_plant(args.engine, n, Path(tmp)) as (plant, alert_id, event_id):
                print(f"    loaded in {time.perf_counter() - t0:.0f} s")
                results[n] = measure(plant, alert_id, event_id, args.repeat)
    base, big = results[args.baseline_events], results[args.events]
    print(f"\nPage data load times ({args.engine}, HTTPS, encryption + audit on), ms:")
    ratio_head = f"ratio vs {args.baseline_events:,}"
    print(f"{'page':32s} {'median':>9s} {'worst':>9s}  {ratio_head:>16s}  < 1 s")
    for name, (median, worst) in big.items():
        ratio = median / base[name][0] if base[name][0] else float("nan")
        print(f"{name:32s} {median:9.1f} {worst:9.1f}  {ratio:16.2f}  {'yes' if worst < 1000 else 'NO'}")


if __name__ == "__main__":
    main()
