"""A stand-in for the plant's on-prem language-model endpoint: a real HTTP server that speaks
the OpenAI chat-completions shape and checks every request against it.

It is *not* a language model: ``write(messages)`` scripts what it answers (repeat the
facts, swap a line, obey an injected instruction, print a canary…), so tests can put
the grounding check in front of every kind of bad output. What it does for real: it
serves HTTP on loopback (``tests/support/http_stub.py``), is reached through the real
egress gate, refuses a request whose shape is wrong (HTTP 400, recorded in
``violations``), and keeps every prompt it was sent (``prompts``) so a test can prove
what the model received.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import TracebackType
from typing import Any

from lineguard.config.egress import EgressConfig
from lineguard.config.language_model import EndpointModelConfig
from lineguard.server.assistant.rephrase import Rephraser, build_rephraser
from lineguard.server.egress import EgressGate
from tests.support.http_stub import HttpStub, Reply, StubRequest

__all__ = ["PATH", "ChatEndpoint", "fact_lines", "repeat_facts"]

PATH = "/v1/chat/completions"
Messages = list[dict[str, str]]
_KEYS = {"model", "messages", "max_tokens", "temperature", "stream"}


def fact_lines(messages: Messages) -> list[str]:
    """The ``- …`` lines of the prompt's user message, in order (sentences, then records)."""
    user = next(m["content"] for m in messages if m["role"] == "user")
    return [line[2:] for line in user.splitlines() if line.startswith("- ")]


def repeat_facts(messages: Messages) -> str:
    """What a faithful model writes: the answer's sentences as given (no records)."""
    user = next(m["content"] for m in messages if m["role"] == "user")
    sentences = user.split("Records:")[0]
    return " ".join(line[2:] for line in sentences.splitlines() if line.startswith("- "))


def _shape_problems(request: StubRequest) -> list[str]:
    problems = []
    if request.method != "POST" or request.path != PATH:
        problems.append(f"{request.method} {request.path}, expected POST {PATH}")
    if (request.header("content-type") or "").split(";")[0] != "application/json":
        problems.append("content type is not application/json")
    try:
        body = json.loads(request.body)
    except ValueError:
        return [*problems, "body is not JSON"]
    if not isinstance(body, dict) or set(body) != _KEYS:
        return [
            *problems,
            f"keys {sorted(body) if isinstance(body, dict) else type(body)}, expected {sorted(_KEYS)}",
        ]
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        problems.append("messages is not a non-empty list")
    elif any(
        not isinstance(m, dict) or set(m) != {"role", "content"} or m["role"] not in {"system", "user"}
        or not isinstance(m["content"], str)
        for m in messages
    ):  # fmt: skip
        problems.append("a message is not {role: system|user, content: str}")
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        problems.append("max_tokens is not a positive integer")
    if body["temperature"] != 0 or body["stream"] is not False:
        problems.append("not greedy (temperature 0) and not stream: false")
    return problems


class ChatEndpoint:
    """``with ChatEndpoint(write) as endpoint:`` — ``endpoint.rephraser()`` asks it through a gate."""

    def __init__(
        self,
        write: Callable[[Messages], str],
        *,
        model_version: str = "standin-7b-q4 2026-12",
        reply: Callable[[StubRequest], Reply] | None = None,
    ) -> None:
        self.write = write
        self.model_version = model_version
        self.prompts: list[Messages] = []
        self.violations: list[str] = []
        self._reply = reply
        self._stub = HttpStub(self._answer)

    def _answer(self, request: StubRequest) -> Reply:
        problems = _shape_problems(request)
        if problems:
            self.violations += problems
            return Reply(status=400, body=json.dumps({"error": {"message": "; ".join(problems)}}).encode())
        body = json.loads(request.body)
        self.prompts.append(body["messages"])
        if self._reply is not None:
            return self._reply(request)
        text = self.write(body["messages"])
        answer: dict[str, Any] = {
            "id": f"chatcmpl-{len(self.prompts)}",
            "object": "chat.completion",
            "model": self.model_version,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": len(text.split()), "total_tokens": 0},
        }
        return Reply(body=json.dumps(answer).encode())

    def __enter__(self) -> ChatEndpoint:
        self._stub.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stub.__exit__(exc_type, exc, tb)

    @property
    def url(self) -> str:
        return f"{self._stub.url()}{PATH}"

    def config(self, **overrides: Any) -> EndpointModelConfig:
        return EndpointModelConfig.model_validate(
            {"backend": "endpoint", "url": self.url, "model": "plant-llm", "timeout_s": 5, **overrides}
        )

    def gate(self, *, allowed: bool = True, on_denied: Any = None) -> EgressGate:
        rules = [{"scheme": "http", "host": "127.0.0.1", "port": self._stub.port}] if allowed else []
        return EgressGate(EgressConfig.model_validate({"allow": rules}), on_denied=on_denied)

    def rephraser(self, *, allowed: bool = True, **overrides: Any) -> Rephraser:
        rephraser = build_rephraser(self.config(**overrides), self.gate(allowed=allowed))
        assert rephraser is not None
        return rephraser
