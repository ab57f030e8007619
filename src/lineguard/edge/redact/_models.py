"""The vendored person models: what they are, where they came from, how they load.

The four ONNX graphs in ``models/`` were converted once from the ``.tflite`` files in
the ``mediapipe==0.10.21`` wheel (Apache-2.0; see ``models/NOTICE.md``) by the
repository's build-time ``tools/convert_tflite.py`` (not part of the package). They ship
inside this package, so nothing is downloaded at run time. Each file is checked against
the sha256 pinned here before onnxruntime sees it: a missing, truncated or altered model
raises :class:`RedactionError`, which the evidence store treats as "do not store this frame".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from lineguard.edge.redact._errors import RedactionError
from lineguard.vision.ort import import_onnxruntime, session_options

__all__ = ["MODELS", "ModelSpec", "load_session"]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One vendored model file and its provenance."""

    name: str
    filename: str
    #: sha256 of the ONNX file as shipped.
    sha256: str
    #: sha256 of the ``.tflite`` inside the mediapipe 0.10.21 wheel it was converted from.
    source_sha256: str
    #: Model input height and width (NHWC float32, batch 1).
    input_hw: tuple[int, int]


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "segmentation",
            "selfie_segmentation.onnx",
            "85a56a57b8f5dfbab8fcb62953433ea7159e8824981bdfbebf58dc20e9a44fc4",
            "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
            (256, 256),
        ),
        ModelSpec(
            "segmentation_landscape",
            "selfie_segmentation_landscape.onnx",
            "790b66b3c9432315d8111dcd198477160a2cf2518bf9e230fd0ed43499cf1720",
            "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
            (144, 256),
        ),
        ModelSpec(
            "body",
            "pose_detection.onnx",
            "cc1b69dd251a7a2a7d5a68712504e28a88f270c46b94bcf23659823130b28438",
            "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
            (224, 224),
        ),
        ModelSpec(
            "face",
            "face_detection_full_range_sparse.onnx",
            "401c08500d69061638049e14336ed96b016878b556ff42678602924cb85a514f",
            "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
            (192, 192),
        ),
    )
}


def _read(spec: ModelSpec, model_dir: Path | None) -> bytes:
    try:
        if model_dir is not None:
            return (model_dir / spec.filename).read_bytes()
        return (resources.files("lineguard.edge.redact") / "models" / spec.filename).read_bytes()
    except OSError as exc:
        msg = (
            f"person model {spec.filename} cannot be read ({exc}); expected it inside the "
            "lineguard package (lineguard/edge/redact/models/)"
        )
        raise RedactionError(msg) from exc


def load_session(spec: ModelSpec, *, threads: int, model_dir: Path | None = None) -> Any:
    """An onnxruntime session for ``spec`` after checking the file's digest; CPU only.

    ``model_dir`` replaces the packaged folder (tests use it to prove that a damaged
    copy is refused); the digests stay the pinned ones either way.
    """
    data = _read(spec, model_dir)
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        msg = (
            f"person model {spec.filename} has sha256 {digest}, expected {spec.sha256}: "
            "the file is damaged or was replaced"
        )
        raise RedactionError(msg)
    ort = import_onnxruntime()  # outside the try: a refusal is not a damaged model
    try:
        options = session_options(intra_op_threads=threads)
        # No busy-waiting between ops: redaction shares two cores with the inspection path.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        msg = f"person model {spec.filename} failed to load: {exc}"
        raise RedactionError(msg) from exc
