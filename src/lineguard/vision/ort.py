"""The one door to ONNX Runtime: no other LineGuard module imports ``onnxruntime``.

ONNX Runtime's official wheels phone home unless ``ORT_DISABLE_TELEMETRY=1`` is set
before the module loads (see :mod:`lineguard.no_telemetry`, which sets it when ``lineguard``
is imported). :func:`import_onnxruntime` checks that this really happened before it
imports the module, and raises :class:`~lineguard.contracts.errors.ConfigError` saying
what it expected and what it found otherwise: the variable absent or set to another
value, or onnxruntime already imported by someone else before LineGuard could set it.
ruff's banned-api rule (TID251) and tests/unit/vision/test_ort.py keep every other
module from importing onnxruntime itself.

:func:`session_options` holds the settings every LineGuard session shares, and passes
on the few session configuration entries of :data:`SESSION_CONFIG_KEYS` (thread spinning,
scheduling, denormals). onnxruntime itself accepts any key and ignores the ones it does not
know, and reads a malformed value only when a session is created, so a typo would change
nothing without a word: here an unknown key or a non-integer value is a
:class:`~lineguard.contracts.errors.ConfigError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from lineguard import no_telemetry
from lineguard.contracts.errors import ConfigError

__all__ = [
    "SESSION_CONFIG_KEYS",
    "import_onnxruntime",
    "import_onnxruntime_quantization",
    "require_telemetry_off",
    "session_options",
]

#: Session configuration entries LineGuard passes on (onnxruntime's names; integer values).
SESSION_CONFIG_KEYS = frozenset(
    {
        "session.intra_op.allow_spinning",  # 1 (onnxruntime's default): idle workers spin, 0: they sleep
        "session.inter_op.allow_spinning",
        "session.dynamic_block_base",  # > 0: parallel loops hand out shrinking blocks of work
        "session.set_denormal_as_zero",
    }
)


def require_telemetry_off() -> None:
    """Raise unless onnxruntime can only load (or has loaded) with its telemetry switched off."""
    switch, wanted = no_telemetry.ORT_TELEMETRY_SWITCH, no_telemetry.ORT_TELEMETRY_OFF
    found = os.environ.get(switch)
    if found != wanted:
        shown = "absent" if found is None else repr(found)
        msg = f"refusing to load onnxruntime: {switch} must be {wanted!r} (its telemetry off), found {shown}"
        raise ConfigError(msg, details=[f"unset it or set {switch}={wanted}; see docs/security.md"])
    if no_telemetry.ONNXRUNTIME_LOADED_TOO_EARLY:
        msg = (
            "refusing to run onnxruntime: it was imported before lineguard set "
            f"{switch}={wanted}, so its telemetry is on for this process"
        )
        raise ConfigError(msg, details=["import lineguard before onnxruntime, or export the variable"])


def import_onnxruntime() -> Any:
    """The ``onnxruntime`` module, once :func:`require_telemetry_off` has passed."""
    require_telemetry_off()
    import onnxruntime as ort  # the one place (ruff TID251 bans it everywhere else)

    # Also off through the API (non-essential events), in case a build ignores the variable.
    ort.disable_telemetry_events()
    return ort


def import_onnxruntime_quantization() -> Any:
    """``onnxruntime.quantization`` (the benches' static INT8 tool), once the telemetry check has passed."""
    import_onnxruntime()
    import onnxruntime.quantization as quantization  # the one place, as above

    return quantization


def session_options(
    *,
    intra_op_threads: int | None = None,
    inter_op_threads: int | None = 1,
    config: Mapping[str, str] | None = None,
) -> Any:
    """``SessionOptions`` with LineGuard's defaults: warnings off, thread counts when given,
    and the configuration entries in ``config`` (keys of :data:`SESSION_CONFIG_KEYS`)."""
    entries = dict(config or {})
    unknown = sorted(set(entries) - SESSION_CONFIG_KEYS)
    if unknown:
        msg = f"unknown onnxruntime session setting(s) {', '.join(unknown)}"
        raise ConfigError(msg, details=[f"known: {', '.join(sorted(SESSION_CONFIG_KEYS))}"])
    bad = sorted(k for k, v in entries.items() if not (isinstance(v, str) and v.isdecimal()))
    if bad:
        got = ", ".join(repr(entries[k]) for k in bad)
        msg = f"onnxruntime session setting(s) {', '.join(bad)} must be a non-negative integer, got {got}"
        raise ConfigError(msg)
    options = import_onnxruntime().SessionOptions()
    options.log_severity_level = 3
    if intra_op_threads is not None:
        options.intra_op_num_threads = intra_op_threads
    if inter_op_threads is not None:
        options.inter_op_num_threads = inter_op_threads
    for key, value in entries.items():
        options.add_session_config_entry(key, value)
    return options
