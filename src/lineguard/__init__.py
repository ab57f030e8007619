"""LineGuard: edge-first visual inspection for factories.

Data flows one way across the trust boundary: frames stay on the edge node
(``lineguard.edge``), only the metadata defined in ``lineguard.contracts``
travels to the plant server (``lineguard.server``).

Importing the package first switches off the telemetry of native dependencies
(:mod:`lineguard.no_telemetry`), so that every way into LineGuard (the CLI, ``python -m``,
a test, a benchmark) has it set before onnxruntime can load.
"""

from lineguard import no_telemetry as _no_telemetry  # noqa: F401 - sets ORT_DISABLE_TELEMETRY first

__version__ = "0.1.0"

__all__ = ["__version__"]
