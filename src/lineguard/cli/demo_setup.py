"""Prepare the demo's state directory: secrets, configs, CA, accounts, model, registry, enrollment.

Everything lives under one directory (``./.lineguard-demo`` by default) so a second
run reuses it: each step checks whether its result already exists. Set-up steps run
the real ``lineguard`` commands in child processes, exactly as an operator would, so
the demo exercises the same paths as a plant installation.

Demo secrets are random but carry the ``lineguard-demo-`` prefix, which every other
process refuses unless ``LINEGUARD_DEMO_MODE=1`` — set only for the demo's children.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from lineguard.cli.demo_stations import (
    STATION_CAMERAS,
    WALKWAY_CAMERA,
    StationLayout,
    prepare_stations,
    station_cameras,
    thermal_cameras,
)
from lineguard.cli.demo_walkway import ensure_walkway_pool, ppe_cameras, walkway_summary
from lineguard.config.edge import SyntheticSource
from lineguard.config.secrets import DEMO_MODE_ENV, DEMO_SECRET_MARKER
from lineguard.contracts.errors import InputError, LineGuardError

if TYPE_CHECKING:
    from lineguard.server.dashboard import TruthScore

__all__ = ["DEMO_ACCOUNTS", "DemoLayout", "demo_env", "first_sign_in", "prepare"]

NODE_ID = "demo-node"
LINE_ID = "line-1"
CAMERA_ID = "cam-1"
SITE_ID = "demo-plant"
MODEL_ID = "demo-part"
ADMIN = "demo.admin"
#: One account per role, so every dashboard journey can be tried (username, name, role).
DEMO_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("quinn.quality", "Quinn Quality", "quality_engineer"),
    ("max.maint", "Max Maintenance", "maintenance_technician"),
    ("sam.super", "Sam Supervisor", "production_supervisor"),
    ("ada.audit", "Ada Auditor", "auditor"),
)
REGISTRAR = "quinn.quality"  # registers and deploys the demo model (model_configuration.write)
APPROVER = "sam.super"  # approves it: four eyes, another person
_SECRETS = ("keyring", "ca", "edge-kek", "signing")


class DemoSetupError(LineGuardError):
    code = "demo_setup_failed"


@dataclass(frozen=True)
class DemoLayout:
    root: Path
    port: int

    @property
    def server_dir(self) -> Path:
        return self.root / "server"

    @property
    def edge_dir(self) -> Path:
        return self.root / "edge"

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    @property
    def server_config(self) -> Path:
        return self.root / "server.yaml"

    @property
    def edge_config(self) -> Path:
        return self.root / "edge.yaml"

    @property
    def model_dir(self) -> Path:
        return self.root / "models" / "demo-part-v1"

    @property
    def signature_file(self) -> Path:
        return self.model_dir.with_name(self.model_dir.name + ".sig")

    @property
    def release_file(self) -> Path:
        """Written once the demo model is registered, approved and deployed."""
        return self.root / "model-release.json"

    @property
    def ground_truth_file(self) -> Path:
        return self.root / "ground-truth.json"

    @property
    def accounts_file(self) -> Path:
        return self.root / "accounts.txt"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/"

    def secret_file(self, name: str) -> Path:
        return self.secrets_dir / f"{name}.txt"


def demo_env() -> dict[str, str]:
    """The environment of the demo's child processes."""
    return {**os.environ, DEMO_MODE_ENV: "1", "PYTHONUNBUFFERED": "1"}


def run_cli(*args: str, log: Path, stdin_text: str | None = None) -> str:
    """Run ``lineguard ARGS`` in a child process; return its stdout or raise with its error."""
    out = subprocess.run(  # noqa: S603 - our own CLI with arguments we built
        [sys.executable, "-m", "lineguard.cli", *args],
        capture_output=True,
        text=True,
        env=demo_env(),
        input=stdin_text,
        check=False,
    )
    with log.open("a", encoding="utf-8") as f:
        f.write(f"$ lineguard {args[0]} {args[1] if len(args) > 1 else ''}\n{out.stderr}")
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["(no message)"])[-1]
        msg = f"`lineguard {' '.join(args[:2])}` failed: {last}"
        raise DemoSetupError(msg)
    return out.stdout


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _ensure_secrets(layout: DemoLayout) -> None:
    for name in _SECRETS:
        path = layout.secret_file(name)
        if not path.exists():
            _write_private(path, DEMO_SECRET_MARKER + secrets.token_urlsafe(32) + "\n")


def _write_server_config(layout: DemoLayout) -> None:
    config = {
        "kind": "server",
        "site_id": SITE_ID,
        "data_dir": str(layout.server_dir),
        "http": {"host": "127.0.0.1", "port": layout.port},
        "keyring": {"passphrase": {"file": str(layout.secret_file("keyring"))}},
        "pki": {
            "ca_passphrase": {"file": str(layout.secret_file("ca"))},
            "server_names": ["127.0.0.1", "localhost"],
        },
        # Named owners (accounts of the demo) and the node's edge.yaml: `lineguard doctor`
        # and the governance documents read them (docs/governance.md).
        "governance": {
            "controller": "LineGuard demo plant",
            "owners": {
                "audit_log_reviewer": {"username": "ada.audit", "review_interval_days": 30},
                "security_owner": {"username": ADMIN, "review_interval_days": 90},
                "data_protection_contact": {"username": ADMIN, "review_interval_days": 365},
            },
            "edge_configs": [str(layout.edge_config)],
        },
        # The synthetic line knows which parts it made defective: the overview scores the
        # AI's part verdicts against it (docs/dashboard.md).
        "dashboard": {"ground_truth_file": str(layout.ground_truth_file)},
    }
    layout.server_config.write_text(
        "# Written by `lineguard demo`; see examples/server.yaml for every setting.\n"
        + yaml.safe_dump(config, sort_keys=False),
        encoding="utf-8",
    )


def _write_edge_config(layout: DemoLayout, roi: dict[str, int], part_threshold: float) -> None:
    config = {
        "kind": "edge",
        "node": {
            "node_id": NODE_ID,
            "site_id": SITE_ID,
            "line_id": LINE_ID,
            "data_dir": str(layout.edge_dir),
        },
        "server": {"url": f"https://127.0.0.1:{layout.port}", "heartbeat_interval_s": 2},
        "cameras": [
            {
                "camera_id": CAMERA_ID,
                "station_id": "st-10",
                "source": {"type": "synthetic", "width": 1280, "height": 720, "fps": 8, **DEMO_LINE},
                "model": str(layout.model_dir),
                "roi": roi,
                "redaction": "blur",
                # A part with defect regions keeps only them and 96 px around them, not the
                # whole ROI: about half the bytes, 15 instead of 26 MiB per demo hour
                # (docs/benchmarks.md, Node disk growth).
                "evidence": {"crop": "defects"},
                "pass_sample_rate": 0.02,
                # Calibrated on known-good parts of the line (lineguard.edge.calibrate, docs/parts.md).
                "parts": {"part_threshold": round(part_threshold, 4)},
                # The walkway at the left edge of the frame is never recorded.
                "privacy_zones": [{"name": "walkway", "points": [[0, 0], [120, 0], [120, 720], [0, 720]]}],
            },
            *station_cameras(StationLayout(layout.root), layout.model_dir),
        ],
        # Delivered rows are deleted when the server acknowledges them: the demo line makes
        # 28,800 frame events an hour (~27 MiB kept for an hour), and the server holds them
        # (docs/benchmarks.md, Demo truth).
        "outbox": {"keep_sent_hours": 0},
        # The stations beside the line: a gauged bracket, a checked label, a motor under a thermal
        # camera (lineguard.cli.demo_stations; the thermal one is time-compressed).
        "thermal_cameras": thermal_cameras(StationLayout(layout.root)),
        # The walkway: PPE counting, off in the product, enabled here for generated people only
        # (lineguard.cli.demo_walkway; the governance documents describe it from this file).
        "ppe_cameras": ppe_cameras(StationLayout(layout.root)),
        # The dashboard's record page shows evidence images: the node answers the server's requests.
        # JPEG 75 instead of the default 85: a demo line is 15 % defective, so about a fifth
        # of its parts keep an image; at 75 the images are 29 % smaller (20 vs 29 KiB) for
        # 1.4 dB less over the defect boxes (docs/benchmarks.md, Node disk growth).
        "evidence": {
            "kek_passphrase": {"file": str(layout.secret_file("edge-kek"))},
            "remote_view": True,
            "jpeg_quality": 75,
        },
        "metrics": {"port": 0},
    }
    layout.edge_config.write_text(
        "# Written by `lineguard demo`; see examples/edge.yaml for every setting.\n"
        + yaml.safe_dump(config, sort_keys=False),
        encoding="utf-8",
    )


def _ensure_accounts(layout: DemoLayout, log: Path) -> None:
    if layout.accounts_file.exists():
        return
    lines = []
    cfg = str(layout.server_config)
    # The administrator's password is reset (and printed) at every start instead.
    run_cli("user", "create-admin", ADMIN, "--name", "Demo Administrator", "--config", cfg, log=log)
    people: dict[str, str] = {}
    for username, name, role in DEMO_ACCOUNTS:
        out = run_cli("user", "add", username, "--name", name, "--role", role, "--config", cfg, log=log)
        lines.append(_credential_line(username, role, out))
        people[username] = lines[-1].split()[-1]
    # The two people of the model's four-eyes release do what a person does at first
    # sign-in (own password, an authenticator), so the registry steps can authenticate
    # them like any person: password and a fresh code (review finding 11).
    scripted = {u: first_sign_in(layout.server_config, u, people[u]) for u in (REGISTRAR, APPROVER)}
    lines = [line if line.split()[0] not in scripted else _scripted_line(line, scripted) for line in lines]
    _write_private(
        layout.accounts_file,
        "# Demo accounts and their one-time passwords (each must be changed at first sign-in).\n"
        "# The registrar and the approver have set their own password and authenticator\n"
        "# (secret shown; add it to an authenticator app to sign in as them).\n" + "\n".join(lines) + "\n",
    )


def _scripted_line(line: str, scripted: dict[str, tuple[str, str]]) -> str:
    username, role, _ = line.split()
    password, secret = scripted[username]
    return f"{username:<15} {role:<24} {password}  totp:{secret}"


#: Random draws tried before giving up (one is refused about once in a thousand).
PASSWORD_DRAWS = 100


def acceptable_password(
    check: Callable[[str], None], *, draw: Callable[[], str] = lambda: secrets.token_urlsafe(18)
) -> str:
    """A random password that ``check`` (the plant's password rules) accepts.

    A random draw can contain the user name or a context word: 'sam' turns up in about one
    24-character draw in a thousand, and the rules rightly refuse it (a CI run failed so).
    Such a draw is discarded, never weakened."""
    for _ in range(PASSWORD_DRAWS):
        candidate = draw()
        try:
            check(candidate)
        except InputError:
            continue
        return candidate
    msg = (
        f"no random password passed the password rules in {PASSWORD_DRAWS} draws: "
        "check the auth password settings"
    )
    raise DemoSetupError(msg)


def first_sign_in(config: Path, username: str, one_time_password: str) -> tuple[str, str]:
    """Change the one-time password and enroll an authenticator, as the person would at a
    first sign-in (no browser at hand); return their new password and TOTP secret."""
    import pyotp

    from lineguard.config import load_server_config
    from lineguard.server.auth import AuthRuntime, change_password, enroll_without_browser, user_by_name
    from lineguard.server.protection import default_audit, default_sealer
    from lineguard.server.storage import open_storage

    settings = load_server_config(config)
    runtime = AuthRuntime.build(settings.site_id, settings.auth)
    password = acceptable_password(lambda candidate: runtime.rules.check(candidate, username=username))
    engine, sessions = open_storage(settings)
    try:
        with sessions() as session:
            audit = default_audit(settings)
            user = user_by_name(session, username)
            if user is None:
                msg = f"the demo account {username} was not created"
                raise DemoSetupError(msg)
            change_password(
                session, runtime=runtime, user=user, current=one_time_password, new=password, audit=audit
            )
            session.commit()
            secret = enroll_without_browser(
                session,
                runtime=runtime,
                user=user,
                sealer=default_sealer(settings, sessions),
                code_of=lambda s: pyotp.TOTP(s).now(),
                audit=audit,
            )
    finally:
        engine.dispose()
    return password, secret


def _credentials(layout: DemoLayout, username: str) -> str:
    """What the person types at a four-eyes step: password, then a fresh authenticator code.

    The code is the next 30-second step's (accepted within the allowed drift), so a step
    right after the previous one is not refused as a replay.
    """
    import pyotp

    for line in layout.accounts_file.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts and parts[0] == username and parts[-1].startswith("totp:"):
            code = pyotp.TOTP(parts[-1].removeprefix("totp:")).at(time.time() + 30)
            return f"{parts[2]}\n{code}\n"
    msg = f"no password and authenticator for {username} in {layout.accounts_file}"
    raise DemoSetupError(msg)


_PASSWORD = re.compile(r"one-time password for (\S+): (\S+)")


def _credential_line(username: str, role: str, output: str) -> str:
    match = _PASSWORD.search(output)
    if match is None:
        msg = f"no one-time password in the output of the command that created {username}"
        raise DemoSetupError(msg)
    return f"{username:<15} {role:<24} {match.group(2)}"


def fresh_admin_password(layout: DemoLayout, log: Path) -> str:
    """A new one-time password for the demo administrator (printed at every start)."""
    out = run_cli("user", "reset-password", ADMIN, "--config", str(layout.server_config), log=log)
    match = _PASSWORD.search(out)
    if match is None:
        msg = "no one-time password in the output of `lineguard user reset-password`"
        raise DemoSetupError(msg)
    return match.group(2)


#: The demo line: how often it makes a defective part and a worker walks by, and its seed
#: (the same seed renders the same parts, so the ground truth below holds on every run).
DEMO_LINE: dict[str, float] = {"defect_rate": 0.15, "person_rate": 0.2, "seed": 7}
#: Parts whose truth the ground-truth file lists (4,800 parts an hour: about 10 hours).
DEMO_TRUTH_PARTS = 50_000


def demo_source() -> SyntheticSource:
    """The demo camera's synthetic line (as its edge config describes it)."""
    return SyntheticSource(
        type="synthetic",
        seed=int(DEMO_LINE["seed"]),
        defect_rate=DEMO_LINE["defect_rate"],
        person_rate=DEMO_LINE["person_rate"],
    )


def _ensure_ground_truth(layout: DemoLayout, parts_known: int = DEMO_TRUTH_PARTS) -> None:
    """Write which parts of the demo line are defective (and how), for the overview's score."""
    from lineguard.edge.capture.synthetic import SyntheticLine

    if layout.ground_truth_file.exists():
        return
    line = SyntheticLine(CAMERA_ID, demo_source(), realtime=False)
    parts: dict[str, str | None] = {}
    for index in range(parts_known):
        kind = line.part_defect(index)
        parts[f"part-{index:06d}"] = kind
    described = (
        f"the demo's synthetic line (seed {DEMO_LINE['seed']}, "
        f"{DEMO_LINE['defect_rate']:.0%} of parts made defective), parts 0-{parts_known - 1}"
    )
    tmp = layout.ground_truth_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"schema_version": 1, "source": described, "parts": parts}), encoding="utf-8")
    tmp.replace(layout.ground_truth_file)


def truth_summary(
    layout: DemoLayout, *, since: float, stations: dict[str, str | None] | None = None
) -> str | None:
    """The demo's part verdicts since ``since`` (epoch seconds) against the line's truth, in
    words; None before any known part was judged. With ``stations`` (part id → what was wrong
    with it, None: a good part; what the station feeder fed), the stations' parts are scored
    against it the same way and said after the line's. Reads the server's database and opens
    part ids in this process (the counts leave it, no id does)."""
    from datetime import UTC, datetime

    from lineguard.config import load_server_config
    from lineguard.server.dashboard import GroundTruth, load_ground_truth, score_parts
    from lineguard.server.protection import default_sealer
    from lineguard.server.storage import opened_storage

    truths = [load_ground_truth(layout.ground_truth_file)]
    if stations:
        truths.append(GroundTruth(schema_version=1, source="what the stations were fed", parts=stations))
    settings = load_server_config(layout.server_config)
    with opened_storage(settings, migrate=False) as sessions, sessions() as session:
        scores = [
            score_parts(
                session,
                truth=truth,
                site_id=SITE_ID,
                lines=None,
                sealer=default_sealer(settings, sessions),
                start=datetime.fromtimestamp(since, UTC),
                end=datetime.now(UTC),
            )
            for truth in truths
        ]
    if scores[0].defective_parts + scores[0].good_parts == 0:
        return None
    said = _score_words(scores[0], "defective parts")
    if len(scores) > 1 and scores[1].defective_parts + scores[1].good_parts:
        fed = _score_words(scores[1], "wrong parts")
        said += f"; the stations (brackets and labels) against what they were fed: {fed}"
    return said


def walkway_words(layout: DemoLayout) -> str:
    """The walkway's PPE counts on the server (as the /ppe page reads them: hours added up, small
    counts suppressed with the server's minimum) beside what the feeder fed, in words."""
    from datetime import UTC, datetime

    from lineguard.config import load_server_config
    from lineguard.server.ppe import ppe_report
    from lineguard.server.storage import opened_storage

    stations = StationLayout(layout.root)
    settings = load_server_config(layout.server_config)
    since = datetime.fromtimestamp(time.time() - 4 * 3600, UTC)
    with opened_storage(settings, migrate=False) as sessions, sessions() as session:
        report = ppe_report(
            session, site_id=SITE_ID, lines=None, since=since, min_count=settings.safety.ppe_min_count
        )
    return walkway_summary(stations, [h for h in report.hours if h.camera_id == WALKWAY_CAMERA])


def _score_words(s: TruthScore, defective: str) -> str:
    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value:.1%}"

    return (
        f"{s.defective_parts + s.good_parts} parts judged: "
        f"recall {pct(s.recall)} ({s.defective_failed}/{s.defective_parts} {defective} failed, "
        f"{s.defective_flagged} failed or sent to review), "
        f"false-reject rate {pct(s.false_reject_rate)} ({s.good_failed}/{s.good_parts} good parts), "
        f"review rate {pct(s.review_rate)}"
    )


#: Good images the demo model learns from. 120 left the calibrated threshold under the
#: tail of good frames (12.6 % of good frames flagged, docs/benchmarks.md); 400 brings it to ~1.4 %.
DEMO_TRAIN_IMAGES = 400
#: Known-good parts the part threshold is calibrated on.
DEMO_CALIBRATION_PARTS = 60
#: Where on the demo line the calibration parts come from (far beyond what a demo shows).
CALIBRATION_FIRST_PART = 1_000_000


def _ensure_model(layout: DemoLayout, report: Callable[[str], None]) -> tuple[dict[str, int], float]:
    """Train the demo's model on synthetic good parts and calibrate its part threshold on
    known-good parts of the line (first run only); return the camera ROI and the threshold."""
    from lineguard.config.edge import PartsConfig, Roi
    from lineguard.edge.calibrate import fused_part_scores, part_threshold
    from lineguard.edge.capture.dataset import write_mvtec_dataset
    from lineguard.edge.capture.synthetic import SyntheticLine
    from lineguard.edge.infer.loader import load_runner
    from lineguard.vision.train import TrainConfig, train_package

    line = SyntheticLine(CAMERA_ID, demo_source(), realtime=False)
    roi = line.part_roi()
    box = {"x": roi.x, "y": roi.y, "width": roi.width, "height": roi.height}
    if not (layout.model_dir / "metadata.json").exists():
        dataset = layout.root / "dataset"
        if not (dataset / "train" / "good").is_dir():
            report(f"rendering {DEMO_TRAIN_IMAGES} synthetic good parts to learn from ...")
            write_mvtec_dataset(
                dataset, n_train_good=DEMO_TRAIN_IMAGES, n_test_good=20, n_test_per_defect=4, seed=7
            )
        report("training the demo model on them (first run only, a few minutes) ...")
        train_package(dataset, layout.model_dir, config=TrainConfig(model_id=MODEL_ID))
    calibration = layout.root / "part-threshold.json"
    if not calibration.exists():
        report(f"calibrating the part threshold on {DEMO_CALIBRATION_PARTS} known-good parts ...")
        # The demo line itself (its belt, lighting, passing workers), parts it will not show
        # for days, with no defects: the "known-good parts" a plant runs when commissioning.
        good_line = SyntheticLine(
            CAMERA_ID,
            demo_source().model_copy(update={"defect_rate": 0.0}),
            realtime=False,
        )
        frames = good_line.frames_of_parts(CALIBRATION_FIRST_PART, DEMO_CALIBRATION_PARTS)
        scores = fused_part_scores(load_runner(layout.model_dir), frames, roi=Roi(**box), parts=PartsConfig())
        calibration.write_text(
            json.dumps({"part_threshold": part_threshold(scores), "good_parts": len(scores)})
        )
    return box, float(json.loads(calibration.read_text())["part_threshold"])


def _ensure_registered(layout: DemoLayout, log: Path, report: Callable[[str], None]) -> None:
    """Put the demo model in the registry the way a plant does (first run only).

    A signing key in the server's store signs the package; the quality engineer
    registers it, the production supervisor approves it (four eyes) and the quality
    engineer deploys it to the demo line: release 1, the very package the node runs.
    """
    if layout.release_file.exists():
        return
    report("signing the demo model and releasing it through the registry (first run only) ...")
    cfg = str(layout.server_config)
    signing = ("--passphrase-file", str(layout.secret_file("signing")))
    if not (layout.server_dir / "signing" / "signers.json").exists():
        run_cli("keys", "signing", "create", "--config", cfg, "--label", "demo-qa", *signing, log=log)
    if not layout.signature_file.exists():
        run_cli("model", "sign", str(layout.model_dir), "--config", cfg, *signing, log=log)
    registered = run_cli(
        "registry",
        "register",
        str(layout.model_dir),
        "--as",
        REGISTRAR,
        "--config",
        cfg,
        "--json",
        log=log,
        stdin_text=_credentials(layout, REGISTRAR),
    )
    version_id = str(json.loads(registered)["id"])
    approve = ("registry", "approve", version_id, "--as", APPROVER, "--config", cfg)
    run_cli(*approve, log=log, stdin_text=_credentials(layout, APPROVER))
    released = run_cli(
        "registry",
        "deploy",
        version_id,
        "--line",
        LINE_ID,
        "--as",
        REGISTRAR,
        "--config",
        cfg,
        "--json",
        log=log,
    )
    layout.release_file.write_text(released, encoding="utf-8")


def prepare(layout: DemoLayout, report: Callable[[str], None]) -> str | None:
    """Bring the state directory up to date; return an enrollment token if the node needs one.

    The walkway's frames are rendered (first run only) in a thread meanwhile: the other steps
    mostly wait for the CLI commands they run."""
    with ThreadPoolExecutor(1, thread_name_prefix="walkway-pool") as pool:
        walkway = pool.submit(ensure_walkway_pool, StationLayout(layout.root))
        token = _prepare(layout, report)
        walkway.result()  # its error, if any, is the demo's
    return token


def _prepare(layout: DemoLayout, report: Callable[[str], None]) -> str | None:
    # In this process, as in the demo's children, the secret files hold demo secrets: the
    # accounts' first sign-in (first run) and the ground-truth printout (every run) open them.
    os.environ[DEMO_MODE_ENV] = "1"
    layout.root.mkdir(parents=True, exist_ok=True)
    log = layout.root / "setup.log"
    _ensure_secrets(layout)
    _write_server_config(layout)
    roi, threshold = _ensure_model(layout, report)
    _write_edge_config(layout, roi, threshold)
    _ensure_ground_truth(layout)
    cfg = str(layout.server_config)
    if not (layout.server_dir / "ca" / "ca.crt.pem").exists():
        report("creating the plant CA and the server certificate ...")
        run_cli("ca", "init", "--config", cfg, log=log)
    _ensure_accounts(layout, log)
    _ensure_registered(layout, log, report)
    prepare_stations(
        StationLayout(layout.root),
        server_config=layout.server_config,
        passphrase_file=layout.secret_file("signing"),
        signers=layout.server_dir / "signing" / "signers.json",
        run_cli=lambda *args: run_cli(*args, log=log),
        report=report,
    )
    # The governance documents of this very configuration (cheap: rebuilt at every start).
    run_cli("governance", "build", "--config", cfg, "--out", str(layout.root / "governance"), log=log)
    if _enrolled_as_configured(layout, log, report):
        return None
    cameras = [arg for camera in DEMO_CAMERAS for arg in ("--camera", camera)]
    out = run_cli(
        "node", "token", "--config", cfg, "--node-id", NODE_ID, "--line", LINE_ID, *cameras, log=log
    )
    return out.strip().splitlines()[-1]


#: Every camera of the demo node: the line's and the stations'.
DEMO_CAMERAS = (CAMERA_ID, *STATION_CAMERAS)


def _enrolled_as_configured(layout: DemoLayout, log: Path, report: Callable[[str], None]) -> bool:
    """Whether the node is enrolled with exactly the demo's cameras. A state directory from before
    the stations (one camera) is enrolled again: the old identity is revoked and removed, as a
    plant does when a node's cameras change (the server refuses results of unenrolled cameras)."""
    identity = layout.edge_dir / "identity"
    info = identity / "identity.json"
    if not info.exists():
        return False
    enrolled = set(json.loads(info.read_text(encoding="utf-8")).get("camera_ids", []))
    if enrolled == set(DEMO_CAMERAS):
        return True
    report(
        f"the demo node's cameras changed ({', '.join(sorted(enrolled))} enrolled): enrolling it again ..."
    )
    reason = "demo stations added: the node is enrolled again with its new cameras"
    run_cli("node", "revoke", NODE_ID, "--reason", reason, "--config", str(layout.server_config), log=log)
    shutil.rmtree(identity)
    return False
