"""The optional local language model: rephrasing permitted facts behind a grounding check.

Off unless ``assistant.language_model`` is configured (:mod:`lineguard.config.language_model`).
When on, :func:`~lineguard.server.assistant.ask` gives the :class:`Rephraser` the
:class:`Facts` the built-in answerer already selected for the person — its sentences
and the cited records, opened again under the same compiled scope (:mod:`.facts`) —
and nothing else. The model's text is used only if every number, identifier, line,
date and name in it is in those facts (:mod:`.grounding`); otherwise the built-in
answer is returned and the fallback is recorded in ``ai.question`` with the model and
version that were asked (:mod:`.rephraser`). Backends: in-process llama.cpp and an
on-prem OpenAI-compatible endpoint through the egress gate (:mod:`.models`).
"""

from lineguard.server.assistant.rephrase.facts import (
    SYSTEM_PROMPT,
    Fact,
    Facts,
    permitted_facts,
    prompt_messages,
)
from lineguard.server.assistant.rephrase.grounding import Grounding, check
from lineguard.server.assistant.rephrase.models import ChatModel, Completion, EndpointModel, LlamaCppModel
from lineguard.server.assistant.rephrase.rephraser import (
    Fallback,
    Rephrased,
    Rephraser,
    build_rephraser,
    compose,
)

__all__ = [
    "SYSTEM_PROMPT",
    "ChatModel",
    "Completion",
    "EndpointModel",
    "Fact",
    "Facts",
    "Fallback",
    "Grounding",
    "LlamaCppModel",
    "Rephrased",
    "Rephraser",
    "build_rephraser",
    "check",
    "compose",
    "permitted_facts",
    "prompt_messages",
]
