"""Inference: each camera's model package, run with ONNX Runtime (or the fake)."""

from __future__ import annotations

from lineguard.edge.infer.loader import ModelCache, load_runner
from lineguard.edge.infer.static import StaticRunner

__all__ = ["ModelCache", "StaticRunner", "load_runner"]
