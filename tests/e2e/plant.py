"""A real plant server for the browser tests and the dashboard benchmark.

``running_plant`` starts ``create_app`` with its defaults (envelope encryption under a
file keyring, the hash-chained audit recorder) under uvicorn over HTTPS on loopback,
with a plant CA and server certificate, then seeds it through the real services: nodes,
a week of inspection events and alerts through ``ingest_batch``, heartbeats through
``record_heartbeat``, and one person per role (with TOTP) through the auth services.

Node ``edge-l1`` is a real enrolled node for evidence: its certificate comes from the
server's enrollment service, its encrypted store holds the images of the records behind
its alerts, and its remote-view worker long-polls the server over mTLS, as with
``evidence.remote_view: true``.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
from pydantic import SecretStr
from sqlalchemy.orm import Session

from lineguard.config.server import AuthConfig, ServerConfig
from lineguard.contracts.events import BoundingBox, IngestBatch, NodeHeartbeat
from lineguard.contracts.ids import new_id
from lineguard.server.app import create_app
from lineguard.server.auth import accounts, grants, totp
from lineguard.server.auth.catalog import Role
from lineguard.server.auth.models import User
from lineguard.server.context import ServerContext
from lineguard.server.dashboard.live import LiveSettings
from lineguard.server.ingest import service as ingest_service
from lineguard.server.nodes.models import Node
from lineguard.server.nodes.service import NodeIdentity
from lineguard.server.pki import PlantCa, ca_paths
from lineguard.server.storage import create_engine_for
from lineguard.server.tls import ServerThread
from tests.support.evidence_node import EvidenceNode, enroll_evidence_node, put_evidence
from tests.support.totp_codes import unused_code
from tests.unit.server.ingest.factory import part_of, stage_result

SITE = "plant-a"
PASSWORD = "correct horse battery staple"
KEYRING_ENV = "LINEGUARD_KEYRING_PASSPHRASE"
TOTP_CATEGORY = "auth_totp_secret"  # what lineguard.server.auth.login seals TOTP secrets under
MODEL = {"model_id": "mdl_tile", "version": 3, "sha256": "ab" * 32}
#: The release line 3 has run for the last day (the defect page's model filter has two to choose).
MODEL_V4 = {"model_id": "mdl_tile", "version": 4, "sha256": "cd" * 32}
NODES = {
    "edge-l1": NodeIdentity("edge-l1", SITE, "line-1", frozenset({"cam-1", "cam-2"}), "s1"),
    "edge-l2": NodeIdentity("edge-l2", SITE, "line-2", frozenset({"cam-3"}), "s2"),
    "edge-l3": NodeIdentity("edge-l3", SITE, "line-3", frozenset({"cam-4"}), "s3"),
}
#: Defect classes and how often each appears on a failed part (a Pareto worth reading).
CLASSES = [("scratch", 9), ("dent", 5), ("crack", 3), ("stain", 2), ("chip", 1)]


@dataclass
class Person:
    username: str
    password: str
    secret: str | None
    roles: tuple[Role, ...]
    user_id: str = ""

    def code(self) -> str:
        assert self.secret is not None
        return pyotp.TOTP(self.secret).now()


@dataclass
class Plant:
    url: str
    settings: ServerConfig
    context: ServerContext
    ca_file: Path
    people: dict[str, Person] = field(default_factory=dict)
    alert_ids: list[str] = field(default_factory=list)
    evidence_event_id: str = ""
    evidence_node: EvidenceNode | None = None

    def session(self) -> Session:
        return self.context.sessions()

    def code(self, username: str) -> str:
        """``username``'s authenticator code for a new sign-in, one the server will take.

        Codes are single-use: tests sign the same person in several times a minute, so the
        code is of a step after the last accepted one (``tests/support/totp_codes.py``).
        """
        person = self.people[username]
        assert person.secret is not None
        with self.session() as session:
            user = session.get(User, person.user_id)
            last = None if user is None else user.totp_last_step
        return unused_code(person.secret, last)


def plant_settings(data_dir: Path) -> ServerConfig:
    # Cheap hashing, and no per-address sign-in limit: every journey signs in from
    # 127.0.0.1 within one minute (the limiter has its own tests in tests/unit/server/auth).
    cheap = AuthConfig(
        argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1, login_attempts_per_minute=10_000
    )
    return ServerConfig(kind="server", site_id=SITE, data_dir=data_dir, auth=cheap)


@contextmanager
def running_plant(
    data_dir: Path,
    *,
    database_url: str | None = None,
    seed: bool = True,
    sections: dict[str, Any] | None = None,
) -> Iterator[Plant]:
    """The plant server; ``sections`` replaces whole config sections (``{"dashboard": …}``)."""
    # The keyring passphrase comes from the environment, as in production; it is put back
    # afterwards so later tests see the environment they expect.
    saved = os.environ.get(KEYRING_ENV)
    os.environ[KEYRING_ENV] = saved or "e2e keyring passphrase"
    engine = None
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        settings = plant_settings(data_dir).model_copy(update=sections or {})
        ca = PlantCa.create(data_dir, SecretStr("e2e ca passphrase!"), site_id=SITE)
        ca.issue_server_certificate(data_dir, names=["127.0.0.1", "localhost"])
        engine = create_engine_for(database_url or f"sqlite:///{data_dir / 'lineguard.db'}")
        live = LiveSettings(poll_s=0.3, recheck_s=2.0, keepalive_s=5.0, lifetime_s=60.0)
        app = create_app(settings, engine=engine, ca=ca)
        app.state.lineguard.live = live
        paths = ca_paths(data_dir)
        with ServerThread(
            app, cert_file=paths.server_cert, key_file=paths.server_key, ca_file=paths.cert
        ) as srv:
            plant = Plant(url=srv.url, settings=settings, context=app.state.lineguard, ca_file=paths.cert)
            if not seed:
                yield plant
                return
            with evidence_node(plant, ca, data_dir.parent / "edge-l1"):
                seed_people(plant)
                seed_plant(plant)
                seed_registry(plant)
                seed_retention_and_checkpoint(plant)
                yield plant
    finally:
        if engine is not None:
            engine.dispose()
        if saved is None:
            os.environ.pop(KEYRING_ENV, None)


@contextmanager
def evidence_node(plant: Plant, ca: PlantCa, data_dir: Path) -> Iterator[EvidenceNode]:
    """``edge-l1`` enrolled for real, answering evidence requests until the plant stops."""
    from lineguard.edge.evidence.remote_view import RemoteViewWorker
    from lineguard.edge.identity import https_client

    node = NODES["edge-l1"]
    enrolled = enroll_evidence_node(
        plant.context,
        ca,
        data_dir,
        node_id=node.node_id,
        site_id=SITE,
        line_id=node.line_id,
        camera_ids=sorted(node.camera_ids),
        server_url=plant.url,
    )
    plant.evidence_node = enrolled
    stop = threading.Event()
    worker = RemoteViewWorker(
        stop,
        store=enrolled.store,
        client_factory=lambda: https_client(data_dir, plant.url),
        wait_s=2.0,
    )
    worker.start()
    try:
        yield enrolled
    finally:
        stop.set()
        worker.join(30)
        enrolled.store.close()


def keep_evidence(
    plant: Plant, event: dict[str, Any], *, region: BoundingBox | None = None, defect_hidden: bool = False
) -> None:
    """Store the image of ``event`` on its node, when that node is the real one (with ``region``:
    a crop of the frame there, signed with ``defect_hidden`` as a node since evidence crops does)."""
    node = plant.evidence_node
    if node is not None and event["node_id"] == node.identity.node_id and event["evidence_ref"]:
        put_evidence(
            node,
            evidence_id=event["evidence_ref"],
            event_id=event["event_id"],
            camera_id=event["camera_id"],
            region=region,
            defect_hidden=defect_hidden,
        )


# ---- people ---------------------------------------------------------------------------


def add_person(
    plant: Plant,
    username: str,
    roles: tuple[Role, ...],
    *,
    mfa: bool = True,
    one_time: bool = False,
    lines: list[str] | None = None,
) -> Person:
    context = plant.context
    runtime = context.auth
    with context.sessions() as session:
        user, otp = accounts.create_user(
            session,
            runtime=runtime,
            username=username,
            display_name=username.replace(".", " ").title(),
            by="cli:e2e",
            audit=context.audit,
        )
        password = otp
        if not one_time:
            user.password_hash = runtime.hasher.hash(PASSWORD)
            user.must_change_password = False
            password = PASSWORD
        for role in roles:
            grants.grant_role(
                session,
                runtime=runtime,
                grantee=user,
                role=role,
                lines=lines,
                until=None,
                by=None,
                by_label="cli:e2e",
                audit=context.audit,
            )
        session.commit()
        user_id = user.id
    secret = totp.new_secret() if mfa else None
    if secret is not None:
        # Sealed outside the write transaction: the envelope stores its data key itself.
        sealed = context.sealer.seal(secret.encode(), object_id=user_id, category=TOTP_CATEGORY)
        with context.sessions() as session:
            stored = session.get(User, user_id)
            assert stored is not None
            stored.totp_sealed = sealed
            session.commit()
    person = Person(username, password, secret, roles, user_id)
    plant.people[username] = person
    return person


def seed_people(plant: Plant) -> None:
    add_person(plant, "quinn.quality", (Role.QUALITY_ENGINEER,))
    add_person(plant, "tom.maintenance", (Role.MAINTENANCE_TECHNICIAN,), mfa=False)
    add_person(plant, "anna.audit", (Role.AUDITOR,))
    add_person(plant, "ada.admin", (Role.IT_ADMINISTRATOR,))
    add_person(plant, "nina.new", (Role.QUALITY_ENGINEER,), mfa=False, one_time=True)


# ---- inspection data -----------------------------------------------------------------


def make_event(
    node: NodeIdentity, camera: str, at: datetime, i: int, model: dict[str, Any] | None = None
) -> dict[str, Any]:
    fail = i % 23 == 0 or (node.line_id == "line-2" and i % 11 == 0)
    uncertain = not fail and i % 41 == 0
    defects: list[str] = []
    if fail or uncertain:
        weights = [name for name, w in CLASSES for _ in range(w)]
        defects = [weights[(i * 7 + len(camera)) % len(weights)]]
    return {
        "event_id": new_id("evt"),
        "idempotency_key": new_id("idk"),
        "node_id": node.node_id,
        "site_id": SITE,
        "line_id": node.line_id,
        "station_id": "st-1",
        "camera_id": camera,
        "part_id": f"P-{i:06d}" if fail else None,
        "frame_id": i,
        "captured_at": at.isoformat(),
        "model": model or MODEL,
        "verdict": "fail" if fail else "uncertain" if uncertain else "pass",
        "anomaly_score": 0.91 if fail else 0.55 if uncertain else 0.12,
        "threshold": 0.5,
        "regions": [
            {"defect_class": d, "score": 0.9, "bbox": {"x": 120, "y": 64, "width": 40, "height": 22}}
            for d in defects
        ],
        "evidence_ref": f"evd_{new_id('x')[2:]}" if fail else None,
        "latency_ms": 14.0 + (i % 9),
    }


def make_alert(event: dict[str, Any], at: datetime, severity: str = "warning") -> dict[str, Any]:
    cls = event["regions"][0]["defect_class"] if event["regions"] else None
    return {
        "alert_id": new_id("alr"),
        "idempotency_key": new_id("idk"),
        "node_id": event["node_id"],
        "site_id": SITE,
        "line_id": event["line_id"],
        "camera_id": event["camera_id"],
        "kind": "defect",
        "severity": severity,
        "raised_at": at.isoformat(),
        "message": f"{cls or 'defect'} on part {event['part_id'] or 'unknown'} at {event['camera_id']}",
        "event_id": event["event_id"],
        "defect_class": cls,
    }


def send(
    plant: Plant,
    node: NodeIdentity,
    events: list[dict[str, Any]],
    alerts: list[dict[str, Any]],
    parts: list[dict[str, Any]] | None = None,
    stage_results: list[dict[str, Any]] | None = None,
) -> None:
    """Ingest through the real service; without ``parts`` each event is a part seen in one
    frame (a triggered camera). ``stage_results`` go with the first chunk."""
    context = plant.context
    for start in range(0, max(len(events), len(alerts), 1), 500):
        chunk = events[start : start + 500]
        body = {
            "node_id": node.node_id,
            "sent_at": datetime.now(UTC).isoformat(),
            "events": chunk,
            "alerts": alerts[start : start + 500],
            "parts": [part_of([e]) for e in chunk] if parts is None else parts[start : start + 500],
            "stage_results": (stage_results or []) if start == 0 else [],
        }
        with context.sessions() as session:
            ingest_service.ingest_batch(
                session,
                node=node,
                batch=IngestBatch.model_validate(body),
                sealer=context.sealer,
                audit=context.audit,
            )


def seed_plant(plant: Plant, *, per_hour: int = 6, hours: int = 24 * 7) -> None:
    """A week of results on three lines, a few alerts, heartbeats (line 3's node is silent)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with plant.session() as session:
        for n in NODES.values():
            if session.get(Node, n.node_id) is None:  # edge-l1 enrolled for real
                session.add(
                    Node(node_id=n.node_id, site_id=SITE, line_id=n.line_id, camera_ids=sorted(n.camera_ids))
                )
        session.commit()
    for node in NODES.values():
        events: list[dict[str, Any]] = []
        alerts: list[dict[str, Any]] = []
        i = 0
        for h in range(hours, 0, -1):
            for camera in sorted(node.camera_ids):
                for k in range(per_hour):
                    at = now - timedelta(hours=h) + timedelta(minutes=k * (60 // per_hour))
                    model = MODEL_V4 if node.node_id == "edge-l3" and h <= 24 else MODEL
                    event = make_event(node, camera, at, i, model)
                    i += 1
                    events.append(event)
                    if event["verdict"] == "fail" and h <= 3 and len(alerts) < 4:
                        alerts.append(make_alert(event, at, "critical" if len(alerts) == 0 else "warning"))
        send(plant, node, events, alerts)
        kept = {a["event_id"] for a in alerts}
        for event in events:
            if event["event_id"] in kept:
                keep_evidence(plant, event)
        plant.alert_ids += [a["alert_id"] for a in alerts]
        if alerts and not plant.evidence_event_id:
            plant.evidence_event_id = str(alerts[0]["event_id"])
    for node_id, backlog in (("edge-l1", 3), ("edge-l2", 120)):
        node = NODES[node_id]
        beat = NodeHeartbeat.model_validate(
            {
                "node_id": node_id,
                "site_id": SITE,
                "line_id": node.line_id,
                "sent_at": datetime.now(UTC).isoformat(),
                "software_version": "0.1.0",
                "uptime_s": 86400.0,
                "outbox_backlog": backlog,
                "disk_used_bytes": 3_200_000_000,
                "cameras": [
                    {
                        "camera_id": c,
                        "state": "streaming",
                        "fps": 24.8,
                        "latency_p50_ms": 15.0,
                        "latency_p99_ms": 38.0,
                        "frames_dropped": 4,
                        "model": MODEL,
                    }
                    for c in sorted(node.camera_ids)
                ],
            }
        )
        with plant.session() as session:
            ingest_service.record_heartbeat(session, node=node, heartbeat=beat)
            session.commit()


def raise_alert(plant: Plant, *, message_part: str = "P-LIVE-1") -> str:
    """Ingest one new failed part and its critical alert now (what a node would send)."""
    node = NODES["edge-l1"]
    now = datetime.now(UTC)
    event = make_event(node, "cam-1", now, 0)
    event["part_id"] = message_part
    alert = make_alert(event, now, "critical")
    send(plant, node, [event], [alert])
    # The stored crop (160x120 at (40, 20)) holds the defect box (120, 64, 40x22), and a
    # worker's hand over it was hidden by redaction: the record view must say so.
    keep_evidence(plant, event, region=BoundingBox(x=40, y=20, width=160, height=120), defect_hidden=True)
    return str(alert["alert_id"])


#: Frame numbers of raised parts: a camera's frame counter only goes up while the node runs.
_frames = itertools.count(90_000)


def raise_part_alert(
    plant: Plant,
    *,
    part: str,
    frames: int = 4,
    decisive: int = 2,
    gauged: bool = False,
    expected_frames: int | None = None,
) -> tuple[str, list[str]]:
    """One failed part seen in ``frames`` frames on line 1 (frame ``decisive`` decided it),
    its alert and its evidence image now (``gauged``: with a gauging stage that found hole_a
    out of tolerance, its lengths averaged over the last three frames; ``expected_frames``: the
    frames its camera expects a part to be judged on); returns the alert id and the frames'
    event ids."""
    node = NODES["edge-l1"]
    now = datetime.now(UTC)
    events = []
    for k in range(frames):
        event = make_event(node, "cam-1", now - timedelta(seconds=(frames - k) * 0.2), 0)
        event |= {"part_id": part, "frame_id": next(_frames)}
        if k != decisive:
            event |= {"verdict": "pass", "anomaly_score": 0.3 + 0.05 * k, "regions": [], "evidence_ref": None}
        else:
            event["regions"] = [
                {
                    "defect_class": "scratch",
                    "score": 0.91,
                    "bbox": {"x": 120, "y": 64, "width": 40, "height": 22},
                },
                {
                    "defect_class": "dent",
                    "score": 0.62,
                    "bbox": {"x": 60, "y": 100, "width": 24, "height": 24},
                },
            ]
        events.append(event)
    alert = make_alert(events[decisive], now, "critical")
    verdict, results = part_of(events), []
    if expected_frames is not None:
        verdict |= {"frames_expected": expected_frames, "views_short": frames < expected_frames}
    if gauged:
        hole = {"characteristic": "hole_a", "value": 8.31, "uncertainty": 0.012, "unit": "mm",
                "nominal": 8.0, "lower_limit": 7.9, "upper_limit": 8.1, "in_tolerance": False}  # fmt: skip
        results = [stage_result(verdict, verdict="fail", measurements=[hole])]
        results[0]["frame_ids"] = [e["frame_id"] for e in reversed(events[-3:])]
        verdict["stages"] = [
            {"stage": "gauge", "kind": "gauging", "verdict": "fail", "result_id": results[0]["result_id"]}
        ]
    send(plant, node, events, [alert], [verdict], results)
    keep_evidence(plant, events[decisive], region=BoundingBox(x=40, y=20, width=160, height=120))
    return str(alert["alert_id"]), [str(e["event_id"]) for e in events]


# ---- model registry ---------------------------------------------------------------------


def seed_registry(plant: Plant) -> None:
    """Two signed versions of a model through the registry service: v1 approved and deployed
    to line-1 (registered by Nina, approved by Quinn), v2 registered by Nina and waiting."""
    from lineguard.server.registry import service as registry_service
    from lineguard.signing.keystore import SigningKeyStore
    from lineguard.signing.sign import sign_package
    from lineguard.vision.testing import build_tiny_package

    context = plant.context
    passphrase = SecretStr("e2e signing passphrase")
    store = SigningKeyStore(plant.settings.data_dir / "signing")
    store.create(passphrase, label="quality lab")
    registry = context.registry.get()
    nina, quinn = plant.people["nina.new"], plant.people["quinn.quality"]
    versions = []
    for gray in (0.5, 0.45):
        package = plant.settings.data_dir / "uploads" / f"tile-{gray}" / "package"
        build_tiny_package(package, model_id="tile-anomaly", gray_level=gray)
        sign_package(package, store.load_signing_key(passphrase))
        with context.sessions() as session:
            version = registry_service.register(
                session,
                registry=registry,
                package_dir=package,
                user_id=nina.user_id,
                actor="user:nina.new",
                audit=context.audit,
            )
            session.commit()
            versions.append(version.id)
    with context.sessions() as session:
        registry_service.approve(
            session,
            version_id=versions[0],
            approver_id=quinn.user_id,
            actor="user:quinn.quality",
            audit=context.audit,
        )
        registry_service.deploy(
            session,
            registry=registry,
            version_id=versions[0],
            lines=["line-1"],
            nodes=[],
            actor="user:quinn.quality",
            audit=context.audit,
        )


# ---- retention and the audit chain ---------------------------------------------------------


def seed_retention_and_checkpoint(plant: Plant) -> None:
    """A manual retention sweep, a legal hold on the record behind the first alert, and a
    signed audit checkpoint (the server signs one every 5 minutes; tests cannot wait)."""
    from lineguard.server.audit.scheduled import checkpoint_now
    from lineguard.server.retention import service as retention

    context = plant.context
    retention.run_sweep(context.sessions, plant.settings.retention, trigger="manual", actor="user:ada.admin")
    with context.sessions() as session:
        retention.place_hold(
            session,
            category_name="inspection_events",
            record_id=plant.evidence_event_id,
            reason="customer complaint C-1042",
            actor="user:quinn.quality",
            audit=context.audit,
        )
    signer = context.checkpoints.signer
    assert signer is not None, "the audit domain's lifespan keeps its signer in the context"
    checkpoint_now(context, signer)
