"""A thermal camera's learned normal bands on the node's disk, so a restart does not relearn them.

Learning takes ``learn_hours`` (a week by default) during which the camera raises no alarm;
losing that to a restart would blind the camera for a week. After learning, the node's
thermal worker writes the bands to ``<data_dir>/thermal/<camera_id>.bands.json`` (mode
0600, written to a temporary file and renamed, so a crash leaves the old file or the new
one, never half of one) and reads them back at its next start.

The file says what it was learned for and carries its own digest
(:func:`lineguard.crypto.write_digested`)::

    {"schema_version": 1, "camera_id": …, "config_sha256": …, "learned_at": …,
     "bands": {asset: {"all": [centre, low, high, samples], "7": […], …}},
     "sha256": SHA-256 of the canonical JSON of everything above}

:func:`load_bands` checks, in this order, that the file parses, that its digest matches
its content (:class:`~lineguard.contracts.errors.IntegrityError`: "expected …, got …"),
its schema, its camera, and that the camera's monitoring config that shapes a band (ROIs,
``band_by``, ``band_sigma``, ``band_min_half_width_c``, ``min_learn_samples``) is unchanged
(:class:`~lineguard.contracts.errors.InputError`). The worker turns any of these into a
``stage_rejected`` alert, sets the file aside (``….rejected``) and learns again: a corrupt
file is never a crash and never a silently wrong band.

The digest detects corruption, truncation and edits by hand; it is not a signature. Anyone
who can write the node's data directory can also change its edge.yaml.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from lineguard.config.thermal import ThermalStageConfig
from lineguard.contracts.errors import InputError
from lineguard.crypto import digest_json, read_digested, write_digested

__all__ = ["SCHEMA_VERSION", "bands_path", "config_fingerprint", "load_bands", "save_bands"]

SCHEMA_VERSION = 1
Bands = dict[str, dict[str, list[float]]]


def bands_path(data_dir: Path, camera_id: str) -> Path:
    return data_dir / "thermal" / f"{camera_id}.bands.json"


def config_fingerprint(config: ThermalStageConfig) -> str:
    """SHA-256 of the settings a learned band depends on (alarm limits may change freely)."""
    shaping = {
        "rois": [[r.asset, r.x, r.y, r.width, r.height] for r in config.rois],
        "band_by": config.band_by,
        "band_sigma": config.band_sigma,
        "band_min_half_width_c": config.band_min_half_width_c,
        "min_learn_samples": config.min_learn_samples,
    }
    return hashlib.sha256(digest_json(shaping)).hexdigest()


def save_bands(
    path: Path, *, camera_id: str, config: ThermalStageConfig, bands: Bands, now: dt.datetime
) -> None:
    """Write the file (private, atomic); OSError when the disk refuses."""
    body: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "camera_id": camera_id,
        "config_sha256": config_fingerprint(config),
        "learned_at": now.isoformat(),
        "bands": bands,
    }
    write_digested(path, body)


def load_bands(path: Path, *, camera_id: str, config: ThermalStageConfig) -> tuple[Bands, dt.datetime]:
    """The bands saved for this camera and config, and when they were learned.

    IntegrityError when the file is not what was written (unparsable, digest mismatch);
    InputError when it was written for another camera, schema or monitoring config."""
    body = read_digested(path, what="saved bands", kind="saved-bands")
    if body.get("schema_version") != SCHEMA_VERSION:
        msg = f"{path.name}: schema version {body.get('schema_version')!r}, expected {SCHEMA_VERSION}"
        raise InputError(msg)
    if body.get("camera_id") != camera_id:
        msg = f"{path.name} holds the bands of camera {body.get('camera_id')!r}, not {camera_id!r}"
        raise InputError(msg)
    if body.get("config_sha256") != config_fingerprint(config):
        msg = f"{path.name} was learned with other ROIs or band settings: the thermal config changed"
        raise InputError(msg)
    bands, learned_at = body.get("bands"), body.get("learned_at")
    if not isinstance(bands, dict) or not isinstance(learned_at, str):
        msg = f"{path.name}: no bands or no learning time"
        raise InputError(msg)
    try:
        when = dt.datetime.fromisoformat(learned_at)
    except ValueError as exc:
        msg = f"{path.name}: learned_at {learned_at!r} is not a time"
        raise InputError(msg) from exc
    return bands, when
