"""Load each camera's model; a model that cannot load disables only its camera.

:func:`load_runner` wraps :class:`lineguard.vision.runtime.OnnxModelRunner` (package
checks, digest, signature of the graph) and turns any failure into a
:class:`~lineguard.contracts.errors.ModelError` that names the camera and the package.
Runners are shared between cameras that name the same package directory.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from lineguard.contracts.errors import LineGuardError, ModelError
from lineguard.contracts.types import ModelRunner

__all__ = ["ModelCache", "load_runner"]

log = logging.getLogger(__name__)


def load_runner(
    package_dir: Path, *, threads: int | None = 1, providers: Sequence[str] | None = None
) -> ModelRunner:
    """An ONNX Runtime runner for a model package directory, or :class:`ModelError`.

    ``providers`` in order of preference (``None`` or empty: automatic, see
    :func:`lineguard.vision.runtime.select_providers`).
    """
    from lineguard.vision.runtime import OnnxModelRunner  # onnxruntime only when a model is run

    try:
        return OnnxModelRunner(package_dir, threads=threads, providers=providers or None)
    except ModelError:
        raise
    except LineGuardError as exc:
        msg = f"model package {package_dir} cannot be loaded: {exc.message}"
        raise ModelError(msg) from exc
    except Exception as exc:  # a corrupt file can surface as anything from a parser
        msg = f"model package {package_dir} cannot be loaded: {type(exc).__name__}: {exc}"
        raise ModelError(msg) from exc


class ModelCache:
    """One runner per package directory; failures remembered (and counted) per directory."""

    def __init__(self, *, threads: int | None = 1, providers: Sequence[str] | None = None) -> None:
        self.threads = threads
        self.providers = list(providers or [])
        self._runners: dict[Path, ModelRunner] = {}
        self.failures: dict[Path, str] = {}

    def get(self, package_dir: Path) -> ModelRunner:
        key = package_dir.resolve()
        if key in self._runners:
            return self._runners[key]
        if key in self.failures:
            raise ModelError(self.failures[key])
        try:
            runner = load_runner(package_dir, threads=self.threads, providers=self.providers)
        except ModelError as exc:
            self.failures[key] = exc.message
            raise
        self._runners[key] = runner
        return runner

    def add(self, package_dir: Path, runner: ModelRunner) -> None:
        """Pre-register a runner (tests, benchmarks, a StaticRunner for a demo camera)."""
        self._runners[package_dir.resolve()] = runner
