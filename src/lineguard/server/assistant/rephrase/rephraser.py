"""Rephrasing permitted facts with a language model, or falling back to the built-in answer.

:meth:`Rephraser.rephrase` builds the prompt from the :class:`~.facts.Facts` only
(:func:`~.facts.prompt_messages`), asks the model, and returns a :class:`Rephrased`:
the model's text with each sentence's supporting records when it passes the grounding
check (:mod:`.grounding`), otherwise the **fallback** and why —

* ``unavailable`` — the model cannot load or run, the endpoint failed or is not on the
  egress allowlist, its secret is missing;
* ``timeout`` — past ``timeout_s``;
* ``empty`` — no text, or (cut by ``max_tokens``) not one whole sentence;
* ``ungrounded`` — a number, identifier, line, date or name that is not in the facts.

The caller (``ask``) then returns the built-in answer and records the fallback in the
``ai.question`` entry with the model and version that were asked. Nothing here raises
for a model's failure: a question is always answered.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from lineguard.config.language_model import LanguageModelConfig, LlamaCppModelConfig
from lineguard.contracts.errors import LineGuardError
from lineguard.server.assistant.rephrase.facts import Facts, prompt_messages
from lineguard.server.assistant.rephrase.grounding import check
from lineguard.server.assistant.rephrase.models import ChatModel, Completion, EndpointModel, LlamaCppModel
from lineguard.server.assistant.schemas import Citation, SentenceOut
from lineguard.server.egress import EgressGate
from lineguard.server.once import Once

__all__ = ["Fallback", "Rephrased", "Rephraser", "build_rephraser", "compose"]

log = logging.getLogger(__name__)

Fallback = Literal["unavailable", "timeout", "empty", "ungrounded"]
#: Up to the last sentence end followed by a space: a cut-off text may end in "unit price 12."
_WHOLE = re.compile(r"^.*[.!?](?=\s)", re.DOTALL)
_HEADER = re.compile(r"\w+:")
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_BULLET = re.compile(r"^\s*(?:[-*•]\s+|\d+[.)]\s+(?=\D))")


@dataclass(frozen=True, slots=True)
class Rephrased:
    """What the model made of the facts: ``text`` and ``sentences`` only when grounded."""

    model: str
    model_version: str
    fallback: Fallback | None
    text: str = ""
    #: Each sentence of ``text`` with the permitted records that support it.
    sentences: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: The claims the grounding check could not find (for tests and the bench, never shown).
    unsupported: tuple[str, ...] = ()
    completion: Completion | None = None


class Rephraser:
    """One configured model behind the grounding check (module docstring)."""

    def __init__(
        self,
        model: Callable[[], ChatModel],
        *,
        label: str,
        max_tokens: int,
        timeout_s: float,
        max_fact_records: int,
    ) -> None:
        self._model = Once(model)
        self.label = label
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.max_fact_records = max_fact_records

    def rephrase(self, facts: Facts) -> Rephrased:
        try:
            model = self._model.get()
            messages = prompt_messages(facts)
            done = model.complete(messages, max_tokens=self.max_tokens, timeout_s=self.timeout_s)
        except LineGuardError as exc:
            log.warning("assistant language model unavailable: %s", exc.message)
            return Rephrased(model=self.label, model_version="unknown", fallback="unavailable")
        if done.finish_reason == "timeout":
            return _outcome(done, "timeout")
        text = done.text.strip()
        if done.finish_reason == "length":
            whole = _WHOLE.match(text)
            text = whole.group(0) if whole else ""
        text = _once_each(text)
        if not text:
            return _outcome(done, "empty")
        verdict = check(text, facts)
        if not verdict.grounded:
            return _outcome(done, "ungrounded", unsupported=verdict.unsupported)
        return _outcome(done, None, text=text, sentences=verdict.sentences)


def _once_each(text: str) -> str:
    """The text without bullets and headers ("Facts:"), each repeated sentence once (small models loop)."""
    seen: list[str] = []
    for part in _SENTENCES.split(text):
        sentence = _BULLET.sub("", part).strip()
        if sentence and sentence not in seen and not _HEADER.fullmatch(sentence):
            seen.append(sentence)
    return " ".join(seen)


def _outcome(
    done: Completion,
    fallback: Fallback | None,
    *,
    text: str = "",
    sentences: tuple[tuple[str, tuple[str, ...]], ...] = (),
    unsupported: tuple[str, ...] = (),
) -> Rephrased:
    return Rephrased(
        model=done.model,
        model_version=done.model_version,
        fallback=fallback,
        text=text,
        sentences=sentences,
        unsupported=unsupported,
        completion=done,
    )


def build_rephraser(config: LanguageModelConfig | None, gate: EgressGate) -> Rephraser | None:
    """The rephraser ``assistant.language_model`` describes, or None when it is off.

    The model itself is loaded on first use (an in-process model takes a moment and
    memory), and a failed load is tried again on the next question.
    """
    if config is None:
        return None
    build: Callable[[], ChatModel]
    if isinstance(config, LlamaCppModelConfig):
        settings = config
        label = config.model_path.name

        def build() -> ChatModel:
            return LlamaCppModel(settings)

    else:
        endpoint = config
        label = config.model

        def build() -> ChatModel:
            return EndpointModel(endpoint, gate)

    return Rephraser(
        build,
        label=label[:120],
        max_tokens=config.max_tokens,
        timeout_s=config.timeout_s,
        max_fact_records=config.max_fact_records,
    )


def compose(outcome: Rephrased, citations: list[Citation]) -> tuple[str, list[SentenceOut]]:
    """The answer text and sentences of a grounded rephrasing, cited with ``citations``' numbers."""
    number = {c.record_id: c.n for c in citations}
    sentences = [
        SentenceOut(text=text, cites=sorted({number[r] for r in ids if r in number}))
        for text, ids in outcome.sentences
    ]
    answer = " ".join(f"{s.text} " + "".join(f"[{n}]" for n in s.cites) for s in sentences)
    return answer, sentences
