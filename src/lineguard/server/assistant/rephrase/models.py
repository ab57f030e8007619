"""The language models a rephraser can ask: in-process llama.cpp, or an on-prem endpoint.

Both take chat messages and return a :class:`Completion` — the text, which model and
version actually produced it, and how long it took (time to first token, tokens) — or
raise a typed error: :class:`~lineguard.contracts.errors.ModelError` (cannot load or
run), :class:`~lineguard.contracts.errors.UpstreamError` (the endpoint failed or
answered something that is not a chat completion),
:class:`~lineguard.contracts.errors.EgressDeniedError` (the endpoint is not on the
allowlist). Decoding is greedy (temperature 0), so the same facts give the same text.

* :class:`LlamaCppModel` — ``llama-cpp-python`` (the ``llm`` extra), imported only
  here and only when configured. One generation at a time (a lock: a ``Llama`` is not
  thread-safe); its state is reset before each prompt so an answer never depends on the
  previous one. Its version names the GGUF file's SHA-256 and the runtime version. The
  instructions travel at the end of the user turn (Gemma's chat format has no system
  role and llama.cpp's drops it; placed first, gemma3-270m repeats them as its answer);
  a GGUF of the gemma family without a chat template gets llama.cpp's ``gemma`` format
  instead of its ``llama-2`` default.
* :class:`EndpointModel` — ``POST`` to an OpenAI-compatible chat-completions URL through
  :class:`~lineguard.server.egress.GatedHttp` (allowlist, pinned CA, capped body); the
  version is the ``model`` (and ``system_fingerprint``) the endpoint says it ran.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from lineguard.config.language_model import EndpointModelConfig, LlamaCppModelConfig
from lineguard.contracts.errors import ModelError, UpstreamError
from lineguard.server.egress import EgressGate, GatedHttp

__all__ = ["ChatModel", "Completion", "EndpointModel", "LlamaCppModel", "Message"]

Message = dict[str, str]
#: The egress purpose of the endpoint's requests (named in denials and errors).
PURPOSE = "assistant:language_model"


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    model: str
    model_version: str
    #: ``length`` when ``max_tokens`` cut it short, ``timeout`` when the deadline did.
    finish_reason: str
    completion_tokens: int
    first_token_s: float | None
    total_s: float


class ChatModel(Protocol):
    """What a rephraser asks; :class:`LlamaCppModel` and :class:`EndpointModel` are the two."""

    @property
    def model(self) -> str: ...

    def complete(self, messages: list[Message], *, max_tokens: int, timeout_s: float) -> Completion: ...


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:  # noqa: PTH123 - streamed in chunks
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _in_user_turn(messages: list[Message]) -> list[Message]:
    """The system text put after the first user turn's (models without a system role)."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system and rest:
        rest[0]["content"] = f"{rest[0]['content']}\n\n{system}"
    return rest


class LlamaCppModel:
    """A GGUF model in this process (``assistant.language_model.backend: llama_cpp``)."""

    def __init__(self, config: LlamaCppModelConfig) -> None:
        try:
            import llama_cpp  # heavy and optional: only when configured
        except ImportError:
            msg = "llama-cpp-python is not installed: pip install 'lineguard[llm]' (it compiles llama.cpp)"
            raise ModelError(msg) from None
        path = config.model_path
        if not path.is_file():
            msg = f"assistant.language_model.model_path {path} is not a file"
            raise ModelError(msg)
        try:
            probe = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
            metadata = dict(probe.metadata)
            del probe
            chat_format = config.chat_format
            if chat_format is None and "tokenizer.chat_template" not in metadata:
                chat_format = "gemma" if "gemma" in metadata.get("general.architecture", "") else None
            self._llama: Any = llama_cpp.Llama(
                model_path=str(path),
                chat_format=chat_format,
                n_ctx=config.context_tokens,
                n_threads=config.threads,
                n_threads_batch=config.threads,
                seed=0,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            msg = f"cannot load the language model {path.name} ({exc.__class__.__name__})"
            raise ModelError(msg) from None
        name = str(self._llama.metadata.get("general.name") or path.stem)
        self._model = name[:120]
        self.model_version = f"sha256:{_file_sha256(str(path))[:16]} llama-cpp-python {llama_cpp.__version__}"
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self._model

    def complete(self, messages: list[Message], *, max_tokens: int, timeout_s: float) -> Completion:
        with self._lock:
            started = time.perf_counter()
            self._llama.reset()  # evaluate every prompt from scratch: no answer depends on the last
            parts: list[str] = []
            first: float | None = None
            finish = "stop"
            stream: Any = self._llama.create_chat_completion(
                messages=_in_user_turn(messages),
                max_tokens=max_tokens,
                temperature=0.0,
                stream=True,
            )
            try:
                for chunk in stream:
                    choice = chunk["choices"][0]
                    piece = choice["delta"].get("content") or ""
                    if piece:
                        first = first if first is not None else time.perf_counter() - started
                        parts.append(piece)
                    if choice.get("finish_reason"):
                        finish = str(choice["finish_reason"])
                    if time.perf_counter() - started > timeout_s:
                        finish = "timeout"
                        break
            except (ValueError, RuntimeError) as exc:
                msg = f"the language model failed ({exc.__class__.__name__})"
                raise ModelError(msg) from None
            finally:
                stream.close()
            return Completion(
                text="".join(parts),
                model=self.model,
                model_version=self.model_version,
                finish_reason=finish,
                completion_tokens=len(parts),
                first_token_s=first,
                total_s=time.perf_counter() - started,
            )


def _chat_completion(body: bytes, where: str) -> tuple[str, str, str, int | None]:
    """(text, model, finish_reason, completion tokens) of an OpenAI chat-completions answer."""
    try:
        data = json.loads(body)
        choice = data["choices"][0]
        text = choice["message"]["content"]
        model = data.get("model")
        finish = choice.get("finish_reason") or "stop"
        usage = data.get("usage") or {}
        tokens = usage.get("completion_tokens")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        msg = f"{PURPOSE}: {where} answered something that is not a chat completion"
        raise UpstreamError(msg, retryable=False) from None
    if not isinstance(text, str) or not isinstance(finish, str):
        msg = f"{PURPOSE}: {where} answered a chat completion without text"
        raise UpstreamError(msg, retryable=False)
    fingerprint = data.get("system_fingerprint")
    version = str(model) if isinstance(model, str) and model else "unknown"
    if isinstance(fingerprint, str) and fingerprint:
        version = f"{version} {fingerprint}"
    return text, version[:200], finish, tokens if isinstance(tokens, int) else None


class EndpointModel:
    """An on-prem OpenAI-compatible endpoint through the egress gate (``backend: endpoint``)."""

    def __init__(self, config: EndpointModelConfig, gate: EgressGate) -> None:
        self._config = config
        self._http = GatedHttp(gate, purpose=PURPOSE, timeout_s=config.timeout_s)

    @property
    def model(self) -> str:
        return self._config.model

    def complete(self, messages: list[Message], *, max_tokens: int, timeout_s: float) -> Completion:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._config.api_key is not None:
            headers["Authorization"] = f"Bearer {self._config.api_key.resolve().get_secret_value()}"
        body = json.dumps(
            {
                "model": self._config.model,
                "messages": messages,
                "max_tokens": max_tokens,
                "temperature": 0,
                "stream": False,
            }
        ).encode()
        started = time.perf_counter()
        try:
            result = self._http.request("POST", self._config.url, headers=headers, content=body)
        except UpstreamError:
            took = time.perf_counter() - started
            if took < timeout_s:
                raise
            return Completion("", self.model, "unknown", "timeout", 0, None, took)  # read timed out
        took = time.perf_counter() - started
        if result.status != 200:
            msg = f"{PURPOSE}: {result.url} answered HTTP {result.status}"
            raise UpstreamError(msg, retryable=result.status >= 500)
        text, version, finish, tokens = _chat_completion(result.body, result.url)
        return Completion(
            text=text,
            model=self._config.model,
            model_version=version,
            finish_reason="timeout" if took > timeout_s else finish,
            completion_tokens=tokens if tokens is not None else len(text.split()),
            first_token_s=None,
            total_s=took,
        )
