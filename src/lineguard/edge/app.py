"""The edge node: configuration in, workers running, one readable :meth:`EdgeNode.start`.

::

    node = EdgeNode(load_edge_config(path))
    node.start()          # metrics, cameras, outbox sender, housekeeping
    node.wait()           # until SIGTERM / Ctrl-C sets node.stop_event
    node.close()

Each camera gets a capture worker and an inspect worker joined by a bounded
freshest-wins queue; all cameras share the durable outbox, the evidence store (through
the redaction gate) and one sender. A camera whose model cannot load is reported as
failed (a ``model_rejected`` alert goes to the outbox) and the other cameras carry on.
"""

from __future__ import annotations

import functools
import logging
import os
import ssl
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lineguard import __version__
from lineguard.config.digest import config_sha256
from lineguard.config.edge import CameraConfig, EdgeConfig, PpeCameraConfig, ServerLinkConfig
from lineguard.config.thermal import ThermalCameraConfig
from lineguard.contracts.errors import LineGuardError, ModelError
from lineguard.contracts.events import Alert, AlertKind, AlertSeverity, CameraHealth, NodeHeartbeat
from lineguard.contracts.ids import new_id
from lineguard.contracts.types import FrameSource, ModelRunner, SourceState
from lineguard.crypto import KdfParams, atomic_write
from lineguard.edge.capture import PrivacyMask, build_source
from lineguard.edge.decide import StationMonitor
from lineguard.edge.evidence import EvidenceStore
from lineguard.edge.evidence.gate import EvidenceGate, EvidenceWriter
from lineguard.edge.housekeeping import Housekeeping
from lineguard.edge.infer import ModelCache
from lineguard.edge.infer.loader import load_runner
from lineguard.edge.outbox import HttpsTransport, Outbox, OutboxSender, Transport
from lineguard.edge.pipeline import Arrival, CameraStats, CaptureWorker, InspectWorker, batching
from lineguard.edge.redact import Redactor
from lineguard.edge.stages import build_stages
from lineguard.edge.workers import BackpressureQueue, FrameQueue, LatestQueue, Worker

__all__ = ["EdgeNode", "default_redactor", "status_path"]

log = logging.getLogger(__name__)
#: The longest the main thread sleeps in :meth:`EdgeNode.wait` before looking at signals again.
WAKE_S = 1.0

QUEUE_FRAMES = 2  # per camera: small, so latency stays low and overload shows as drops

# The version a camera's configured (local) package reports in its events until a registry
# release replaces it. A model version is not a property of the package: the registry assigns
# it (one more than the model's latest) when the package is registered, and the signed package
# bytes cannot carry a number assigned after signing. A local package is therefore version 1 of
# itself; once the node is enrolled, the update worker swaps in the installed release and every
# later event carries that release's ``model_version`` (edge/update/client.py), also after a
# restart (the installed release is restored from the update state).
LOCAL_MODEL_VERSION = 1


def status_path(data_dir: Path) -> Path:
    return data_dir / "status.json"


def default_redactor() -> Redactor | None:
    """The packaged person redactor, or ``None`` (then no evidence is stored) if unavailable."""
    from lineguard.edge import redact

    factory = getattr(redact, "PersonRedactor", None)
    if factory is None:
        log.error("no person redactor installed: evidence images will not be stored")
        return None
    try:
        return factory()  # type: ignore[no-any-return]
    except Exception as exc:
        log.error("person redactor failed to load (%s): evidence images will not be stored", exc)  # noqa: TRY400
        return None


class EdgeNode:
    def __init__(
        self,
        config: EdgeConfig,
        *,
        runners: dict[str, ModelRunner] | None = None,
        sources: dict[str, FrameSource] | None = None,
        redactor: Redactor | str | None = "auto",
        transport: Transport | None = None,
        allow_demo_secrets: bool = False,
        kdf: KdfParams | None = None,
    ) -> None:
        self.config = config
        #: Reported in every heartbeat: the server shows drift from the edge.yaml it was given.
        self.config_sha256 = config_sha256(config)
        self.data_dir = config.node.data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.stop_event = threading.Event()
        self.started_at = time.monotonic()
        self.workers: list[Worker] = []
        camera_ids = [c.camera_id for c in config.cameras] + [c.camera_id for c in config.thermal_cameras]
        camera_ids += [c.camera_id for c in config.ppe_cameras]
        self.stats: dict[str, CameraStats] = {i: CameraStats(i) for i in camera_ids}
        self._runners = runners or {}
        #: One batching runner per package shared by several cameras (edge/pipeline/batching.py).
        self._batched: dict[Path, ModelRunner] = {}
        self._sources = sources or {}
        self.models = ModelCache(threads=config.inference.threads, providers=config.inference.providers)
        self.outbox = Outbox(
            self.data_dir / "outbox" / "outbox.db",
            fsync=config.outbox.fsync,
            delete_on_ack=config.outbox.keep_sent_hours == 0,
        )
        self.evidence = EvidenceStore.from_config(config, allow_demo_secrets=allow_demo_secrets, kdf=kdf)
        if redactor == "auto":  # built lazily, in the evidence writer's low-priority thread
            self.gate = EvidenceGate(self.evidence, None, redactor_factory=default_redactor)
        else:
            self.gate = EvidenceGate(self.evidence, redactor)  # type: ignore[arg-type]
        self._transport = transport
        self.sender: OutboxSender | None = None
        self.metrics_port: int | None = None
        self._metrics_server: Any = None
        self.housekeeping: Housekeeping | None = None

    # -- the node, start to finish -------------------------------------------------

    def start(self) -> None:
        self._start_metrics_endpoint()
        for camera in self.config.cameras:
            self._start_camera(camera)
        for thermal in self.config.thermal_cameras:
            self._start_thermal_camera(thermal)
        for ppe in self.config.ppe_cameras:
            self._start_ppe_camera(ppe)
        self._start_evidence_writer()
        self._start_outbox_sender()
        self._start_certificate_renewal()
        self._start_evidence_remote_view()
        self._start_model_updates()
        self._start_housekeeping()

    def wait(self, timeout_s: float | None = None) -> None:
        """Until the node is stopped (or ``timeout_s`` passed), waking at least once a second.

        The waking is what lets SIGTERM stop the node: Python runs a signal handler in the main
        thread only when that thread runs, and a signal the kernel hands to another thread (an
        inference library's, say; reproduced with a PPE camera's person detector under
        ``strace -f``) does not wake a main thread blocked in an endless wait."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not self.stop_event.is_set():
            left = WAKE_S if deadline is None else min(WAKE_S, deadline - time.monotonic())
            if left <= 0:
                return
            self.stop_event.wait(left)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop every worker, then close the stores (workers finish their current frame)."""
        self.stop_event.set()
        for worker in self.workers:
            worker.join(timeout_s)
        if self.sender is not None:
            self.sender.final_flush()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
        if self.housekeeping is not None:
            self.housekeeping.write_status()
        self.outbox.close()
        self.evidence.close()

    # -- the start_* steps -----------------------------------------------------------

    def _start_metrics_endpoint(self) -> None:
        cfg = self.config.metrics
        if cfg.enabled:
            from lineguard.edge.metrics import serve_metrics

            self._metrics_server, self.metrics_port = serve_metrics(self, cfg.host, cfg.port)
            log.info("metrics on http://%s:%d/metrics", cfg.host, self.metrics_port)

    def _shared_runner(self, camera: CameraConfig) -> ModelRunner:
        """The package's runner, batched across the cameras that share it (when configured)."""
        runner = self.models.get(camera.model)
        if not self.config.inference.batch_across_cameras:
            return runner
        key = camera.model.resolve()
        if key not in self._batched:
            sharing = sum(c.model.resolve() == key for c in self.config.cameras)
            self._batched[key] = batching(runner, cameras=sharing)
        return self._batched[key]

    def _start_camera(self, camera: CameraConfig) -> None:
        stats = self.stats[camera.camera_id]
        try:
            runner = self._runners.get(camera.camera_id) or self._shared_runner(camera)
        except ModelError as exc:
            stats.state, stats.last_error = SourceState.FAILED.value, f"model: {exc.message}"
            log.error("camera %s disabled: %s", camera.camera_id, exc.message)  # noqa: TRY400
            self.raise_alert(
                AlertKind.MODEL_REJECTED,
                AlertSeverity.CRITICAL,
                f"camera {camera.camera_id}: {exc.message}",
                camera_id=camera.camera_id,
            )
            return
        try:
            stages = build_stages(camera)
        except LineGuardError as exc:
            # A stage that cannot judge (no valid calibration, a bad spec) must not let parts
            # pass unchecked: the camera stays off until the operator fixes it.
            stats.state, stats.last_error = SourceState.FAILED.value, f"stage: {exc.message}"
            log.error("camera %s disabled: %s", camera.camera_id, exc.message)  # noqa: TRY400
            self.raise_alert(
                AlertKind.STAGE_REJECTED,
                AlertSeverity.CRITICAL,
                f"camera {camera.camera_id}: {exc.message}",
                camera_id=camera.camera_id,
            )
            return
        queue, capture = self._capture(camera, stats)
        inspect = InspectWorker(
            self.stop_event,
            node=self.config.node,
            camera=camera,
            runner=runner,
            model_version=LOCAL_MODEL_VERSION,
            queue=queue,
            stats=stats,
            outbox=self.outbox,
            gate=self.gate,
            monitor=StationMonitor(),
            stages=stages,
        )
        for worker in (inspect, capture):
            worker.start()
            self.workers.append(worker)

    def _capture(
        self, camera: CameraConfig | PpeCameraConfig, stats: CameraStats
    ) -> tuple[FrameQueue[Arrival], CaptureWorker]:
        """The camera's capture worker (privacy zones blacked out first) and the queue it fills:
        one that never drops where every frame is a part (``camera.keeps_every_frame``)."""
        queue: FrameQueue[Arrival]
        if isinstance(camera, CameraConfig) and camera.keeps_every_frame:
            queue = BackpressureQueue(QUEUE_FRAMES, self.stop_event)
        else:
            queue = LatestQueue(QUEUE_FRAMES)
        stats.queue = queue
        source = self._sources.get(camera.camera_id) or build_source(camera)
        return queue, CaptureWorker(self.stop_event, source, PrivacyMask(camera.privacy_zones), queue, stats)

    def _start_thermal_camera(self, camera: ThermalCameraConfig) -> None:
        """A thermal camera's worker (edge/pipeline/thermal.py); one that cannot start is failed."""
        from lineguard.edge.pipeline.thermal import ThermalWorker

        stats = self.stats[camera.camera_id]
        try:
            worker = ThermalWorker(
                self.stop_event,
                node=self.config.node,
                camera=camera,
                outbox=self.outbox,
                stats=stats,
                alert=functools.partial(self._thermal_alert, camera.camera_id),
            )
        except LineGuardError as exc:
            stats.state, stats.last_error = SourceState.FAILED.value, f"thermal: {exc.message}"
            log.error("thermal camera %s disabled: %s", camera.camera_id, exc.message)  # noqa: TRY400
            self._thermal_alert(
                camera.camera_id, AlertKind.STAGE_REJECTED, AlertSeverity.CRITICAL, exc.message
            )
            return
        worker.start()
        self.workers.append(worker)

    def _start_ppe_camera(self, camera: PpeCameraConfig) -> None:
        """A PPE camera's capture and counting workers (edge/pipeline/ppe.py), only when enabled."""
        stats = self.stats[camera.camera_id]
        if not camera.ppe.enabled:  # off by default (docs/inspection.md): not even opened
            stats.state, stats.last_error = SourceState.ENDED.value, "PPE counting is not enabled"
            log.info("PPE camera %s is configured but not enabled", camera.camera_id)
            return
        from lineguard.edge.pipeline.ppe import DetectorFinder, PpeWorker
        from lineguard.edge.ppe import PpeClassifier, PpeCounter
        from lineguard.edge.redact import PersonDetector

        alert = functools.partial(self._ppe_alert, camera.camera_id)
        try:
            finder = DetectorFinder(PersonDetector(threads=self.config.inference.threads))
            counter = PpeCounter(self.config.node, camera, finder=finder, classifier=PpeClassifier.load())
        except LineGuardError as exc:  # the models cannot load, a zone names an item the model lacks
            stats.state, stats.last_error = SourceState.FAILED.value, f"ppe: {exc.message}"
            log.error("PPE camera %s disabled: %s", camera.camera_id, exc.message)  # noqa: TRY400
            alert(AlertKind.STAGE_REJECTED, AlertSeverity.CRITICAL, exc.message)
            return
        queue, capture = self._capture(camera, stats)
        worker = PpeWorker(
            self.stop_event,
            camera=camera,
            counter=counter,
            queue=queue,
            outbox=self.outbox,
            stats=stats,
            alert=alert,
        )
        for w in (worker, capture):
            w.start()
            self.workers.append(w)

    def _ppe_alert(self, camera_id: str, kind: AlertKind, severity: AlertSeverity, message: str) -> None:
        self.raise_alert(kind, severity, f"PPE camera {camera_id}: {message}", camera_id=camera_id)

    def _thermal_alert(self, camera_id: str, kind: AlertKind, severity: AlertSeverity, message: str) -> None:
        self.raise_alert(kind, severity, f"thermal camera {camera_id}: {message}", camera_id=camera_id)

    def _start_evidence_writer(self) -> None:
        writer = EvidenceWriter(self.stop_event, self.gate)
        writer.producers = [w for w in self.workers if isinstance(w, InspectWorker)]  # cameras start first
        writer.start()
        self.workers.append(writer)

    def _start_outbox_sender(self) -> None:
        link = self.config.server
        if link is None and self._transport is None:
            log.info("no server configured: running standalone, events stay in the outbox")
            return
        transport = self._transport
        if transport is None:
            assert link is not None  # noqa: S101 - checked above
            transport = self._server_transport(link)
        self.sender = OutboxSender(
            self.stop_event,
            outbox=self.outbox,
            transport=transport,
            node_id=self.config.node.node_id,
            batch_size=link.batch_size if link else 100,
            flush_interval_s=(link.flush_interval_ms if link else 200) / 1000,
            retry_max_s=link.retry_max_s if link else 30.0,
            heartbeat=self.heartbeat,
            heartbeat_interval_s=link.heartbeat_interval_s if link else 10.0,
        )
        self.sender.start()
        self.workers.append(self.sender)

    def _start_certificate_renewal(self) -> None:
        """Renew the node certificate at 2/3 of its life, or at once when the server asks."""
        from lineguard.edge.identity import IdentityStore

        link = self.config.server
        if link is None or not IdentityStore(self.data_dir).enrolled:
            return
        from lineguard.edge.identity.worker import CHECK_IN_S, RenewalWorker

        worker = RenewalWorker(
            self.stop_event,
            data_dir=self.data_dir,
            server_url=str(link.url).rstrip("/"),
            retry_max_s=max(link.retry_max_s, 60.0),
            # Ingest over MQTT: no HTTPS answer would carry the renew-now header.
            check_in_s=CHECK_IN_S if link.mqtt is not None else None,
        )
        worker.start()
        self.workers.append(worker)

    def _server_transport(self, link: ServerLinkConfig) -> Transport:
        """HTTPS to the server, or QoS 1 to the plant's broker (``server.mqtt``)."""
        if link.mqtt is None:
            from lineguard.edge.identity import https_client

            # The client follows a renewed certificate by itself (identity/client.py).
            return HttpsTransport(
                https_client(self.data_dir, str(link.url).rstrip("/"), timeout=link.timeout_s)
            )
        from lineguard.edge.identity import IdentityStore, node_ssl_context
        from lineguard.edge.outbox.mqtt import MqttTransport

        broker_ca = link.mqtt.broker_ca

        def broker_context() -> ssl.SSLContext:
            context = node_ssl_context(self.data_dir)
            if broker_ca is not None:
                context.load_verify_locations(cafile=broker_ca)
            return context

        broker = urlsplit(link.mqtt.url)
        assert broker.hostname is not None and broker.port is not None  # noqa: S101 - validated by the config
        store = IdentityStore(self.data_dir)
        return MqttTransport(
            host=broker.hostname,
            port=broker.port,
            node_id=self.config.node.node_id,
            ssl_context=broker_context(),
            topic_prefix=link.mqtt.topic_prefix,
            ack_timeout_s=link.timeout_s,
            # A renewal replaces these: the transport reconnects with the renewed certificate.
            follow=(store.credentials_file, store.ca_file),
            rebuild=broker_context,
        )

    def _start_evidence_remote_view(self) -> None:
        """Answer the server's evidence requests (outbound long poll), when configured."""
        from lineguard.edge.identity import IdentityStore

        link, evidence = self.config.server, self.config.evidence
        if not evidence.remote_view:
            return
        if link is None or not IdentityStore(self.data_dir).enrolled:
            log.warning("evidence.remote_view is on, but the node has no enrolled server link: not started")
            return
        from lineguard.edge.evidence.remote_view import RemoteViewWorker
        from lineguard.edge.identity import https_client

        url = str(link.url).rstrip("/")
        worker = RemoteViewWorker(
            self.stop_event,
            store=self.evidence,
            client_factory=lambda: https_client(self.data_dir, url, timeout=link.timeout_s),
            per_hour=evidence.remote_view_per_hour,
            retry_max_s=link.retry_max_s,
        )
        worker.start()
        self.workers.append(worker)

    def _start_model_updates(self) -> None:
        """Signed, TUF-verified models from the registry hot-swap into the cameras (issue 7)."""
        from lineguard.edge.identity import IdentityStore
        from lineguard.edge.pipeline import InspectWorker

        link = self.config.server
        if link is None or not IdentityStore(self.data_dir).credentials_file.exists():
            return  # standalone or not enrolled yet: the configured packages run
        from lineguard.edge.update import start_model_updates

        users = [w for w in self.workers if isinstance(w, InspectWorker)]
        self.workers.append(
            start_model_updates(
                self.stop_event,
                self.data_dir,
                users,
                server_url=str(link.url),
                loader=functools.partial(
                    load_runner,
                    threads=self.config.inference.threads,
                    providers=self.config.inference.providers,
                ),
            )
        )

    def _start_housekeeping(self) -> None:
        self.housekeeping = Housekeeping(self)
        self.housekeeping.start()
        self.workers.append(self.housekeeping)

    # -- what the node says about itself -------------------------------------------------

    def raise_alert(
        self, kind: AlertKind, severity: AlertSeverity, message: str, *, camera_id: str | None = None
    ) -> None:
        node = self.config.node
        alert_id = new_id("alr")
        self.outbox.put(
            Alert(
                alert_id=alert_id,
                idempotency_key=f"{node.node_id}:{alert_id}",
                node_id=node.node_id,
                site_id=node.site_id,
                line_id=node.line_id,
                camera_id=camera_id,
                kind=kind,
                severity=severity,
                raised_at=datetime.now(UTC),
                message=message[:500],
            )
        )

    def disk_used_bytes(self) -> int:
        return self.outbox.used_bytes() + self.evidence.used_bytes()

    def health(self) -> dict[str, Any]:
        sender = self.sender
        counts = self.outbox.counts()
        return {
            "node_id": self.config.node.node_id,
            "pid": os.getpid(),
            "version": __version__,
            "updated_at": datetime.now(UTC).isoformat(),
            "uptime_s": round(time.monotonic() - self.started_at, 1),
            "metrics_port": self.metrics_port,
            "cameras": [
                {
                    "camera_id": s.camera_id,
                    "state": s.state,
                    "fps": round(s.fps.rate(), 2),
                    "latency_p50_ms": round(s.end_to_end.p50, 2),
                    "latency_p99_ms": round(s.end_to_end.p99, 2),
                    "frames_inspected": s.frames_inspected,
                    "frames_dropped": s.frames_dropped,
                    "frames_corrupt": s.frames_corrupt,
                    "frames_invalid": s.frames_invalid,
                    "model_errors": s.model_errors,
                    "queue_depth": len(s.queue) if s.queue else 0,
                    "verdicts": dict(s.verdicts),
                    "parts": s.parts,
                    "parts_views_short": s.parts_views_short,
                    "parts_short_to_review": s.parts_short_to_review,
                    "alerts": s.alerts,
                    "work_orders": s.work_orders,
                    "drift": s.drift,
                    "model": s.model.model_id if s.model else None,
                    "last_error": s.last_error,
                }
                for s in self.stats.values()
            ],
            "outbox": {
                "backlog": counts.get("pending", 0),
                "sent": sender.sent if sender else 0,
                "rejected": counts.get("rejected", 0),
                "shed": self.outbox.shed_count,
                "server": str(self.config.server.url) if self.config.server else None,
                "connected": sender.connected if sender else False,
                "last_error": sender.last_error if sender else None,
            },
            "evidence": {
                "stored": self.gate.stored,
                "redaction_failures": self.gate.redaction_failures,
                "store_failures": self.gate.store_failures,
                "dropped": self.gate.dropped,
                "dropped_by_category": self.gate.dropped_by_category,
                "defect_hidden": self.gate.defect_hidden,
                "queued": len(self.gate.queue),
                "latency_p99_ms": round(self.gate.latency.p99, 1),
                "shredded": self.evidence.shredded,
            },
            "disk": {
                "used_bytes": self.disk_used_bytes(),
                "budget_bytes": self.config.outbox.disk_budget_mb * 2**20,
            },
        }

    def heartbeat(self) -> NodeHeartbeat:
        node = self.config.node
        cameras = [
            CameraHealth(
                camera_id=s.camera_id,
                state=s.state,
                fps=s.fps.rate(),
                latency_p50_ms=s.end_to_end.p50,
                latency_p99_ms=s.end_to_end.p99,
                frames_dropped=s.frames_dropped,
                frames_corrupt=s.frames_corrupt,
                model=s.model,
            )
            for s in self.stats.values()
        ]
        return NodeHeartbeat(
            node_id=node.node_id,
            site_id=node.site_id,
            line_id=node.line_id,
            sent_at=datetime.now(UTC),
            software_version=__version__,
            uptime_s=time.monotonic() - self.started_at,
            outbox_backlog=self.outbox.backlog(),
            disk_used_bytes=self.disk_used_bytes(),
            cameras=cameras,
            config_sha256=self.config_sha256,
        )

    def write_status(self) -> None:
        import json

        atomic_write(status_path(self.data_dir), json.dumps(self.health(), indent=2).encode(), mode=0o644)
