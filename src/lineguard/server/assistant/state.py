"""What the assistant keeps for the server's lifetime: the configured language model, if any.

Built once by ``create_app`` (and by ``lineguard ask``); the model itself loads on the
first question that needs it (:class:`~lineguard.server.assistant.rephrase.Rephraser`).
"""

from __future__ import annotations

from dataclasses import dataclass

from lineguard.config.server import ServerConfig
from lineguard.server.assistant.rephrase import Rephraser, build_rephraser
from lineguard.server.egress import EgressGate

__all__ = ["AssistantState"]


@dataclass(frozen=True)
class AssistantState:
    #: The language model behind the grounding check; None when ``assistant.language_model`` is off.
    rephraser: Rephraser | None

    @classmethod
    def build(cls, settings: ServerConfig, *, gate: EgressGate) -> AssistantState:
        return cls(rephraser=build_rephraser(settings.assistant.language_model, gate))
