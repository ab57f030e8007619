"""``assistant.language_model`` in ``server.yaml``: the optional local language model.

Off unless configured. When on, a language model **rephrases** the built-in answer: it
receives only the facts the built-in answerer already selected for the person (the
answer's sentences and the cited records, read under the compiled permission filter),
and its text is returned only if every number and named thing in it appears in those
facts (the grounding check); otherwise the built-in answer is returned and the fallback
is recorded (docs/assistant.md#the-optional-local-language-model).

Two backends, chosen by ``backend``:

* ``llama_cpp`` — in-process, ``llama-cpp-python`` (the ``llm`` extra) with a GGUF file
  on the server's disk; nothing is downloaded.
* ``endpoint`` — an on-premises server speaking the OpenAI chat-completions shape
  (``POST …/v1/chat/completions``), reached only through the egress gate: its host must
  be in ``egress.allow``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lineguard.config.integrations import _http_url
from lineguard.config.secrets import SecretRef

__all__ = ["EndpointModelConfig", "LanguageModelConfig", "LlamaCppModelConfig"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens: int = Field(
        default=160, ge=16, le=2048, title="Max tokens", description="Longest rephrased answer, in tokens."
    )
    timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        title="Timeout",
        description="Seconds one rephrasing may take; past it the built-in answer is returned.",
    )
    max_fact_records: int = Field(
        default=8,
        ge=0,
        le=50,
        title="Records in the prompt",
        description="Cited records shown to the model beside the answer's sentences (the first ones cited).",
    )


class LlamaCppModelConfig(_Model):
    """A GGUF model run in the server process by ``llama-cpp-python``."""

    backend: Literal["llama_cpp"] = Field(title="Backend", description="In-process llama.cpp.")
    model_path: Path = Field(title="Model file", description="The GGUF file on the server's disk.")
    context_tokens: int = Field(
        default=2048, ge=256, le=32_768, title="Context", description="Prompt plus answer, in tokens."
    )
    chat_format: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$",
        title="Chat format",
        description="llama-cpp-python's chat format name; none: the GGUF's own template (gemma files "
        "without one get 'gemma').",
    )
    threads: int = Field(
        default=1,
        ge=1,
        le=256,
        title="Threads",
        description="CPU threads for inference; more than the free cores is much slower (docs/assistant.md).",
    )


class EndpointModelConfig(_Model):
    """An on-premises OpenAI-compatible chat-completions endpoint, through the egress gate."""

    backend: Literal["endpoint"] = Field(title="Backend", description="OpenAI-compatible HTTP endpoint.")
    url: str = Field(
        max_length=500,
        title="URL",
        description="The chat-completions URL, e.g. https://llm.plant.local:8443/v1/chat/completions.",
    )
    model: str = Field(
        min_length=1, max_length=120, title="Model", description="The model name sent in each request."
    )
    api_key: SecretRef | None = Field(
        default=None, title="API key", description="Sent as a bearer token when the endpoint needs one."
    )

    _check_url = field_validator("url")(_http_url)


LanguageModelConfig = Annotated[LlamaCppModelConfig | EndpointModelConfig, Field(discriminator="backend")]
