"""What LineGuard does so that no dependency talks to the network on its own.

LineGuard only ever connects to destinations its configuration names (the plant server,
a camera, a database, an integration). Its dependencies must not add others. One did:
ONNX Runtime's official Linux wheels (1.29 and later) ship Microsoft's 1DS telemetry, on
by default. From the moment ``onnxruntime`` is imported, a native thread queues session,
model and error events, keeps a persistent device identifier and an offline queue under
``~/.cache/Microsoft/DeveloperTools/.onnxruntime/`` and, about ten seconds in, resolves
``mobile.events.data.microsoft.com`` to upload them. Python audit hooks never see it:
it is native code.

The documented switch is ``ORT_DISABLE_TELEMETRY=1``, read once when onnxruntime loads;
setting it later changes nothing. So this module sets it when importing ``lineguard``
(the package's ``__init__`` imports this module first, before any of ours can import
onnxruntime), and records whether onnxruntime was already loaded without it, in which
case :mod:`lineguard.vision.ort`, the only module that imports onnxruntime, refuses to
run. An operator's own value is kept, so ``ORT_DISABLE_TELEMETRY=0`` is refused there
too, rather than silently overridden.

What an unprotected run left behind is reported by ``lineguard doctor`` (check
``network.telemetry``). docs/security.md lists every dependency checked and how the
system-call test (tests/integration/test_egress_syscalls.py) proves the result.
"""

from __future__ import annotations

import os
import sys
from typing import Final

__all__ = ["ONNXRUNTIME_LOADED_TOO_EARLY", "ORT_TELEMETRY_OFF", "ORT_TELEMETRY_SWITCH"]

#: ONNX Runtime's documented opt-out, and the only value LineGuard accepts.
ORT_TELEMETRY_SWITCH: Final = "ORT_DISABLE_TELEMETRY"
ORT_TELEMETRY_OFF: Final = "1"


def _switch_telemetry_off() -> bool:
    """Set the switch unless the environment already has a value; True if it came too late."""
    loaded_first = "onnxruntime" in sys.modules and os.environ.get(ORT_TELEMETRY_SWITCH) != ORT_TELEMETRY_OFF
    os.environ.setdefault(ORT_TELEMETRY_SWITCH, ORT_TELEMETRY_OFF)
    return loaded_first


#: True when something imported onnxruntime before ``lineguard`` could switch its telemetry off.
ONNXRUNTIME_LOADED_TOO_EARLY: Final = _switch_telemetry_off()
