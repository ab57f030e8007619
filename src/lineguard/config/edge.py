"""Configuration of one edge node (``edge.yaml``): its identity, cameras and budgets.

Camera sources are a discriminated union on ``type`` so each kind checks only its own
settings, and new kinds plug in by adding a class to :data:`SourceConfig`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from lineguard.config.ppe import PpeSettings, privacy_conflicts
from lineguard.config.secrets import DEMO_MODE_ENV, SecretRef
from lineguard.config.stages import StageConfig
from lineguard.config.thermal import ThermalCameraConfig
from lineguard.contracts.events import Name

__all__ = [
    "CameraConfig",
    "CameraEvidenceConfig",
    "DriftConfig",
    "EdgeConfig",
    "EvidenceConfig",
    "FolderSource",
    "InferenceConfig",
    "MetricsConfig",
    "MqttLinkConfig",
    "NodeConfig",
    "OutboxConfig",
    "PartsConfig",
    "PpeCameraConfig",
    "PrivacyZone",
    "Roi",
    "RtspSource",
    "ServerLinkConfig",
    "SourceConfig",
    "StreamCredentials",
    "SyntheticSource",
    "UsbSource",
    "VideoFileSource",
]


#: Shortest written purpose accepted for full-frame evidence.
MIN_PURPOSE_CHARS = 20


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeConfig(_Section):
    node_id: Name = Field(title="Node id", description="Unique name of this edge node in the plant.")
    site_id: Name = Field(title="Site", description="Plant or site the node belongs to.")
    line_id: Name = Field(title="Line", description="Production line the node inspects.")
    data_dir: Path = Field(
        title="Data directory",
        description="Outbox, evidence, keys and model state live under this directory.",
    )


class MqttLinkConfig(_Section):
    """Send the outbox to the plant's MQTT broker instead of posting it (docs/server.md)."""

    url: str = Field(max_length=300, title="Broker", description="mqtts://broker:8883 (TLS only).")
    topic_prefix: str = Field(
        default="lineguard/nodes",
        pattern=r"^[A-Za-z0-9_-]{1,32}(/[A-Za-z0-9_-]{1,32}){0,3}$",
        title="Topic prefix",
        description="The node publishes to <prefix>/<node_id>/batch and /heartbeat.",
    )
    broker_ca: Path | None = Field(
        default=None,
        title="Broker CA",
        description="Issuer of the broker's certificate, if not the plant CA the node enrolled with.",
    )

    @model_validator(mode="after")
    def _tls_only(self) -> MqttLinkConfig:
        parts = urlsplit(self.url)
        if parts.scheme != "mqtts" or not parts.hostname or parts.port is None:
            msg = f"must look like mqtts://broker:8883 (TLS only), got {self.url!r}"
            raise ValueError(msg)
        return self


class ServerLinkConfig(_Section):
    url: HttpUrl = Field(title="Server URL", description="HTTPS base URL of the plant server.")
    batch_size: int = Field(default=100, ge=1, le=500, description="Events per upload request.")
    flush_interval_ms: int = Field(default=200, ge=10, le=60_000, description="Longest wait before a send.")
    retry_max_s: float = Field(default=30.0, gt=0, le=3600, description="Cap of the retry backoff.")
    timeout_s: float = Field(default=10.0, gt=0, le=300, description="Per-request timeout.")
    heartbeat_interval_s: float = Field(
        default=10.0,
        ge=1,
        le=3600,
        title="Heartbeat interval",
        description="Seconds between node heartbeats.",
    )
    mqtt: MqttLinkConfig | None = Field(
        default=None,
        title="Over MQTT",
        description="Batches and heartbeats go to this broker (QoS 1); enrolment and evidence "
        "views stay on HTTPS.",
    )

    @model_validator(mode="after")
    def _https_only(self) -> ServerLinkConfig:
        if self.url.scheme != "https":
            msg = "must be an https:// URL: metadata never travels in clear text"
            raise ValueError(msg)
        return self


class Roi(_Section):
    """Region of interest in full-frame pixels; inference sees only this crop."""

    x: int = Field(default=0, ge=0, le=100_000)
    y: int = Field(default=0, ge=0, le=100_000)
    width: int = Field(gt=0, le=100_000)
    height: int = Field(gt=0, le=100_000)


class PrivacyZone(_Section):
    """A polygon blacked out at capture, before any other stage sees the frame."""

    name: str = Field(default="zone", max_length=64)
    points: list[tuple[int, int]] = Field(min_length=3, max_length=64, description="(x, y) vertices.")


class FolderSource(_Section):
    type: Literal["folder"]
    path: Path = Field(description="Directory watched for new image files.")
    poll_interval_ms: int = Field(default=200, ge=10, le=60_000)
    pattern: str = Field(default="*.png", max_length=64, description="Glob of files to read.")


class VideoFileSource(_Section):
    type: Literal["video"]
    path: Path
    loop: bool = Field(default=False, description="Start again at the end (for demos and soak tests).")
    fps: float | None = Field(
        default=None, gt=0, le=1000, description="Pace playback; None = as fast as read."
    )


def _split_authority(url: str) -> tuple[str, str]:
    """``(authority, rest)`` of ``scheme://authority/rest``: the authority ends at ``/``, ``?`` or ``#``."""
    rest = url.split("://", 1)[1]
    end = min((rest.index(sep) for sep in "/?#" if sep in rest), default=len(rest))
    return rest[:end], rest[end:]


class StreamCredentials(_Section):
    """Who the node signs in to a network camera as; the password never lives in the YAML."""

    username: str = Field(
        min_length=1, max_length=256, title="User name", description="The camera account's user name."
    )
    password: SecretRef = Field(
        title="Password", description="Environment variable or file holding the camera account's password."
    )


class RtspSource(_Section):
    """A network camera: RTSP (H.264, H.265, RTP/JPEG, ...) or MJPEG over HTTP, read with FFmpeg."""

    type: Literal["rtsp", "mjpeg"]
    url: str = Field(
        max_length=2048,
        pattern=r"^(rtsp|rtsps|http|https)://",
        title="Stream URL",
        description=(
            "No password here: give 'credentials'. (In the demo a password may be in the URL, "
            "percent-encoded: @ as %40, : as %3A, / as %2F.)"
        ),
    )
    reconnect_max_s: float = Field(
        default=30.0, gt=0, le=3600, title="Backoff cap", description="Longest wait between reconnects."
    )
    transport: Literal["tcp", "udp"] = Field(
        default="tcp",
        title="RTSP transport",
        description="RTP over the RTSP connection (tcp, survives NAT and loss) or over UDP (rtsp only).",
    )
    timeout_s: float = Field(
        default=5.0,
        ge=0.5,
        le=120,
        title="Timeout",
        description="Longest wait to connect and between two frames before the camera counts as stalled.",
    )
    decoder_threads: int = Field(
        default=1,
        ge=0,
        le=16,
        title="Decoder threads",
        description="FFmpeg decoder threads; 1 adds no frame delay, 0 = one per core (adds latency).",
    )
    credentials: StreamCredentials | None = Field(
        default=None,
        title="Credentials",
        description="User name, and where the password comes from; a password in the URL is refused.",
    )

    @field_validator("url")
    @classmethod
    def _credentials_encoded(cls, url: str) -> str:
        # An unencoded @ / ? # in a password moves the URL's authority: the camera would get
        # a wrong host, and the log redaction could miss part of the password.
        if "@" in _split_authority(url)[1]:
            msg = (
                "'@' after the host: percent-encode credentials in the URL "
                "(@ as %40, / as %2F, ? as %3F, # as %23)"
            )
            raise ValueError(msg)
        return url

    @model_validator(mode="after")
    def _password_not_in_url(self) -> RtspSource:
        userinfo = _split_authority(self.url)[0].rpartition("@")[0]
        if userinfo and self.credentials is not None:
            msg = "credentials are given twice: in the URL and in 'credentials'; keep only 'credentials'"
            raise ValueError(msg)
        # Secrets come from the environment or a file, never from the YAML (the demo excepted).
        if ":" in userinfo and os.environ.get(DEMO_MODE_ENV) != "1":
            msg = (
                "a password in the URL is refused outside the demo: remove it from the URL and give "
                "'credentials' (username, and password from an environment variable or a file)"
            )
            raise ValueError(msg)
        return self


class UsbSource(_Section):
    type: Literal["usb"]
    device_index: int = Field(default=0, ge=0, le=63)
    width: int | None = Field(default=None, gt=0, le=8192)
    height: int | None = Field(default=None, gt=0, le=8192)


class SyntheticSource(_Section):
    type: Literal["synthetic"]
    width: int = Field(default=1280, ge=64, le=8192)
    height: int = Field(default=720, ge=64, le=8192)
    fps: float = Field(default=10.0, gt=0, le=240)
    defect_rate: float = Field(
        default=0.08, ge=0, le=1, description="Share of parts with an injected defect."
    )
    person_rate: float = Field(default=0.1, ge=0, le=1, description="Share of frames a person walks through.")
    seed: int = Field(default=0, ge=0)


class CameraEvidenceConfig(_Section):
    """What part of the frame an evidence image keeps: the inspection ROI, not the scene.

    The stored image is the ROI plus ``margin_px`` on every side, at full resolution; the
    rest of the frame (walkways, workstations, people passing) is never written. Keeping
    the whole frame is an explicit, justified exception: ``full_frame: true`` with a
    written ``full_frame_purpose``, which the governance documents list.

    ``crop: defects`` keeps less still: the image of a part with defect regions is only
    the regions' bounding rectangle plus ``defect_context_px`` around it (inside the ROI
    and margin); a part without regions (a sampled pass) keeps the ROI. Redaction still
    looks at the context window around the whole ROI before the smaller crop is cut.
    """

    margin_px: int = Field(
        default=16,
        ge=0,
        le=2000,
        title="Evidence margin",
        description="Pixels kept around the ROI on every side (context for the reviewer).",
    )
    crop: Literal["roi", "defects"] = Field(
        default="roi",
        title="Evidence crop",
        description=(
            "roi: the ROI plus margin_px. defects: only the defect regions plus defect_context_px "
            "(the ROI plus margin for parts without regions); about half the bytes on the demo line."
        ),
    )
    defect_context_px: int = Field(
        default=96,
        ge=0,
        le=2000,
        title="Context around defects",
        description="With crop: defects, pixels kept around the defect regions' bounding rectangle.",
    )
    full_frame: bool = Field(
        default=False,
        title="Store the whole frame",
        description="Keep the whole frame instead of the ROI; needs full_frame_purpose.",
    )
    full_frame_purpose: str = Field(
        default="",
        max_length=500,
        title="Purpose of full-frame evidence",
        description="Why this camera's evidence must show more than the part (record of processing).",
    )

    @model_validator(mode="after")
    def _purpose_for_full_frame(self) -> CameraEvidenceConfig:
        if self.full_frame and len(self.full_frame_purpose.strip()) < MIN_PURPOSE_CHARS:
            msg = (
                "full_frame: true stores the whole scene (people around the line included); it needs "
                f"full_frame_purpose: a written reason of at least {MIN_PURPOSE_CHARS} characters, "
                f"got {self.full_frame_purpose.strip()!r}"
            )
            raise ValueError(msg)
        if self.full_frame_purpose and not self.full_frame:
            msg = "full_frame_purpose is set but full_frame is false: remove the purpose or set full_frame"
            raise ValueError(msg)
        if self.full_frame and self.crop == "defects":
            msg = (
                "full_frame: true keeps the whole scene and crop: defects keeps only the defects: "
                "choose one (crop: roi with full_frame, or full_frame: false with crop: defects)"
            )
            raise ValueError(msg)
        return self


SourceConfig = Annotated[
    FolderSource | VideoFileSource | RtspSource | UsbSource | SyntheticSource,
    Field(discriminator="type"),
]


class PartsConfig(_Section):
    """How frames become parts (``lineguard.edge.decide.parts``, docs/parts.md)."""

    id_source: Literal["auto", "line", "barcode", "trigger", "tracker"] = Field(
        default="auto",
        title="Part identity",
        description=(
            "Where a frame's part id comes from: 'line' (the source supplies it), 'barcode' (a code on "
            "the part), 'trigger' (a UDP trigger per part), 'tracker' (follow the part on the belt), "
            "'auto' (the source's id when it has one, else the tracker)."
        ),
    )
    part_threshold: float | None = Field(
        default=None,
        title="Part threshold",
        description=(
            "Threshold on a part's fused (median) score, calibrated on known-good parts of this line "
            "(`lineguard.edge.calibrate`); default: the frame threshold."
        ),
    )
    max_part_frames: int = Field(
        default=60,
        ge=1,
        le=10_000,
        description="A part still in view after this many frames is closed as stuck.",
    )
    expected_frames_per_part: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        title="Frames a part is judged on",
        description=(
            "How many complete frames a part normally shows at this line's speed (e.g. 5). A part judged "
            "on fewer is marked views_short in its verdict, on its review page and in the node's metrics "
            "(under load the node may judge fewer frames). Default: not checked."
        ),
    )
    min_frames_per_part: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        title="Fewest frames for an automatic verdict",
        description=(
            "A part judged on fewer complete frames goes to review (uncertain) instead of passing or "
            "failing automatically. Default: every part gets an automatic verdict."
        ),
    )
    idle_close_s: float = Field(
        default=1.0, gt=0, le=600, description="A part in view is closed when no frame arrived for this long."
    )
    barcode_hold_frames: int = Field(
        default=3, ge=0, le=100, description="Frames an unreadable code stays with the last part read."
    )
    trigger_host: str = Field(default="127.0.0.1", description="Interface the UDP trigger input listens on.")
    trigger_port: int = Field(
        default=0, ge=0, le=65535, description="UDP port of the trigger input (0: any)."
    )
    tracker_min_gray: int = Field(
        default=110, ge=1, le=254, description="Tracker: grey level above which a pixel is part, not belt."
    )

    @model_validator(mode="after")
    def _frames_ordered(self) -> PartsConfig:
        low, expected = self.min_frames_per_part, self.expected_frames_per_part
        if low is not None and expected is not None and low > expected:
            msg = (
                f"min_frames_per_part {low} is above expected_frames_per_part {expected}: "
                "every part would go to review"
            )
            raise ValueError(msg)
        return self


class DriftConfig(_Section):
    """Drift monitoring of a camera (``lineguard.edge.drift``, docs/drift.md)."""

    enabled: bool = Field(default=True, description="Watch image statistics and part scores for drift.")
    reference_parts: int = Field(
        default=300,
        ge=50,
        le=100_000,
        title="Reference parts",
        description="Parts after each start or model swap that form the reference the line is compared with.",
    )
    persistence_parts: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description="Consecutive parts a statistic must stay beyond its limit before drift is raised.",
    )
    smoothing: float = Field(
        default=0.05, gt=0, le=1, description="EWMA weight of the newest part (smaller: slower, steadier)."
    )
    horizon_parts: int = Field(
        default=3_000,
        ge=100,
        le=100_000,
        description="Run length the limits are calibrated for: at most 1 % of such stationary runs alarm.",
    )

    @model_validator(mode="after")
    def _persistence_fits(self) -> DriftConfig:
        if self.persistence_parts >= self.horizon_parts:
            msg = "drift.persistence_parts must be smaller than drift.horizon_parts"
            raise ValueError(msg)
        return self


class CameraConfig(_Section):
    camera_id: Name
    station_id: Name
    source: SourceConfig
    frame_queue: Literal["auto", "latest", "every_frame"] = Field(
        default="auto",
        title="Frame queue",
        description=(
            "latest: under overload the freshest frame wins and older ones are dropped (live cameras). "
            "every_frame: no frame is dropped; the source is read at the pace inspection keeps (a "
            "camera that takes one image per part or trigger). auto: every_frame for a folder and an "
            "unpaced video file, latest for live sources."
        ),
    )
    model: Path = Field(description="Model package directory to run on this camera.")
    roi: Roi | None = None
    threshold_override: float | None = Field(
        default=None, description="Replaces the package's calibrated threshold for this camera."
    )
    uncertain_margin: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Scores within this fraction below the threshold are 'uncertain', not 'pass'.",
    )
    privacy_zones: list[PrivacyZone] = Field(default_factory=list, max_length=32)
    redaction: Literal["blur", "black"] = Field(default="blur", description="How people are hidden.")
    pass_sample_rate: float = Field(
        default=0.05,
        ge=0,
        le=1,
        title="Pass sample rate",
        description=(
            "Chance that a passing part is kept as an audit sample once pass_samples_per_hour allows "
            "the next one; 0 keeps no passes."
        ),
    )
    pass_samples_per_hour: float | None = Field(
        default=6.0,
        ge=0,
        le=3600,
        title="Pass samples per hour",
        description=(
            "Most passing parts kept as evidence per hour (spread over the hour, at random); "
            "a handful is what an audit needs. 0 keeps no passes; null removes the cap "
            "(then pass_sample_rate alone decides, per passing frame)."
        ),
    )
    evidence: CameraEvidenceConfig = Field(
        default_factory=CameraEvidenceConfig,
        title="Evidence region",
        description="Evidence images keep the ROI plus a margin; the whole frame only with a purpose.",
    )
    parts: PartsConfig = PartsConfig()
    drift: DriftConfig = DriftConfig()
    stages: list[StageConfig] = Field(
        default_factory=list,
        max_length=16,
        title="Inspection stages",
        description="Checks run on each part besides the anomaly model (gauging, …); see docs/inspection.md.",
    )

    @property
    def keeps_every_frame(self) -> bool:
        """Whether the camera's frame queue makes capture wait instead of dropping a frame."""
        if self.frame_queue != "auto":
            return self.frame_queue == "every_frame"
        source = self.source
        return source.type == "folder" or (source.type == "video" and source.fps is None)

    @model_validator(mode="after")
    def _unique_stage_names(self) -> CameraConfig:
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            msg = f"stage names must be unique per camera, repeated: {', '.join(dupes)}"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _evidence_is_the_part(self) -> CameraConfig:
        if self.roi is None and not self.evidence.full_frame:
            msg = (
                "no roi: evidence images would be the whole frame. Set roi to the part's region "
                "(evidence then keeps only it, plus evidence.margin_px), or set evidence.full_frame: true "
                "with evidence.full_frame_purpose"
            )
            raise ValueError(msg)
        return self


class PpeCameraConfig(_Section):
    """A camera that counts PPE compliance in zones of a walkway (``edge.yaml`` ``ppe_cameras``).

    Not a ``cameras[]`` entry: it has no part model and judges no part; it reports only
    hourly counts per zone (contracts/ppe.py). Its privacy zones are blacked out at capture
    like any camera's, and a PPE zone may not overlap them (docs/inspection.md)."""

    camera_id: Name
    station_id: Name
    source: SourceConfig
    privacy_zones: list[PrivacyZone] = Field(default_factory=list, max_length=32)
    ppe: PpeSettings

    @model_validator(mode="after")
    def _privacy_wins(self) -> PpeCameraConfig:
        problems = privacy_conflicts(self.ppe.zones, [(z.name, z.points) for z in self.privacy_zones])
        if problems:
            raise ValueError("; ".join(problems))
        return self


class EvidenceConfig(_Section):
    retention_days_fail: int = Field(default=90, ge=1, le=3650)
    retention_days_pass: int = Field(default=7, ge=1, le=3650)
    kek_passphrase: SecretRef = Field(
        default=SecretRef(env="LINEGUARD_EDGE_KEK_PASSPHRASE"),
        description="Protects the node's key-encryption key.",
    )
    remote_view: bool = Field(
        default=False,
        title="Remote view",
        description=(
            "Answer the plant server's requests for evidence images (the node polls for them over its "
            "mTLS connection and never listens): a person allowed to see evidence then sees the redacted "
            "image on the dashboard. Off: evidence is opened only on the node."
        ),
    )
    jpeg_quality: int = Field(
        default=85,
        ge=50,
        le=100,
        title="JPEG quality",
        description=(
            "Quality of stored evidence images. 85 keeps a defect region within about 35 dB PSNR of "
            "the frame at 44 % of the bytes of 95 (docs/benchmarks.md, Demo truth); raise it for "
            "defects finer than the camera's noise."
        ),
    )
    remote_view_per_hour: int = Field(
        default=120,
        ge=1,
        le=3600,
        title="Remote views per hour",
        description="Most evidence images the node uploads in any hour; further requests are refused.",
    )


class OutboxConfig(_Section):
    disk_budget_mb: int = Field(default=2048, ge=1, le=10_000_000)
    fsync: bool = Field(
        default=False,
        title="Sync every write",
        description=(
            "false: every event in the outbox survives a crash or kill of the node process (SQLite WAL, "
            "synchronous=NORMAL); true: it also survives power loss, at the cost of one disk flush per event."
        ),
    )
    keep_sent_hours: float = Field(
        default=24.0,
        ge=0,
        le=8760,
        title="Keep delivered",
        description=(
            "Hours delivered rows stay in the outbox; 0 deletes each row as soon as the server "
            "acknowledges it (the server holds it then)."
        ),
    )


class InferenceConfig(_Section):
    """How ONNX Runtime runs the models on this node."""

    providers: list[Literal["cpu", "cuda", "tensorrt", "openvino"]] = Field(
        default_factory=list,
        max_length=4,
        title="Execution providers",
        description="In order of preference; empty = automatic (an available GPU runtime, else the CPU).",
    )
    threads: int = Field(default=1, ge=1, le=64, description="Intra-op threads per model session.")
    batch_across_cameras: bool = Field(
        default=False,
        title="Batch inference across cameras",
        description=(
            "Cameras on the same package score their concurrent frames as one batch (never waits "
            "for a batch to fill). Off by default: on a 2-core CPU node it measured no reliable gain "
            "(docs/benchmarks.md, § Evidence under load); meant for accelerators."
        ),
    )


class MetricsConfig(_Section):
    enabled: bool = Field(default=True, title="Serve metrics", description="Expose the Prometheus endpoint.")
    host: str = Field(default="127.0.0.1", description="Loopback by default: metrics stay on the node.")
    port: int = Field(default=9464, ge=0, le=65535)


class EdgeConfig(_Section):
    kind: Literal["edge"] = Field(description="Marks this file as an edge-node config.")
    node: NodeConfig
    server: ServerLinkConfig | None = Field(default=None, description="Omit to run standalone.")
    cameras: list[CameraConfig] = Field(min_length=1, max_length=64)
    thermal_cameras: list[ThermalCameraConfig] = Field(
        default_factory=list,
        max_length=16,
        description="Thermal cameras watching equipment (lineguard.edge.thermal; docs/inspection.md).",
    )
    ppe_cameras: list[PpeCameraConfig] = Field(
        default_factory=list,
        max_length=16,
        description="Cameras counting PPE compliance per zone and hour, off unless enabled "
        "(docs/inspection.md).",
    )
    evidence: EvidenceConfig = EvidenceConfig()
    outbox: OutboxConfig = OutboxConfig()
    inference: InferenceConfig = InferenceConfig()
    metrics: MetricsConfig = MetricsConfig()

    @model_validator(mode="after")
    def _unique_cameras(self) -> EdgeConfig:
        ids = [c.camera_id for c in self.cameras]
        ids += [c.camera_id for c in self.thermal_cameras] + [c.camera_id for c in self.ppe_cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            msg = f"camera_id must be unique, repeated: {', '.join(dupes)}"
            raise ValueError(msg)
        return self
