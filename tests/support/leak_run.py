"""The leak suite's runner: the seeded plant with canaries, every profile × workflow × question.

Two checks per answer (and per error message):

* **no hidden canary** — the unique string or number of a canary the person may not read
  (in this workflow) appears nowhere in the answer, its citations, its scope statement
  or the error (:func:`~tests.support.assistant_suite.leaks`); no citation names a
  hidden record;
* **non-interference** — the answer is exactly the same as on a copy of the plant from
  which every canary hidden from this person was removed: whatever the hidden records
  are, they change nothing the person sees (this catches derived values, counts,
  differencing and different refusal wording, not only copied strings).

With ``rephraser`` (a language model behind the grounding check) every answer is the
model's rephrasing or its fallback, held to the same two checks; ``outcomes`` counts
which (``language_model``, ``fallback:<reason>``, ``builtin`` when nothing was asked).
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ServerConfig
from lineguard.contracts.errors import LineGuardError
from lineguard.crypto import Envelope, KdfParams, Keyring
from lineguard.server.assistant import ask, effective_scope, workflows_for
from lineguard.server.assistant.rephrase import Rephraser
from lineguard.server.auth import PolicyEngine
from lineguard.server.keystore import SqlDataKeyStore
from lineguard.server.plantdata import Scope, import_records
from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head
from tests.support.assistant_suite import leaks
from tests.support.plant import NOW, PROFILES, SITE, Canary, Profile, canaries, principal, seed_plant
from tests.unit.server.conftest import AuditTrail

__all__ = ["NOW", "LeakReport", "Plant", "built_plant", "run_leak_suite"]


@dataclass
class Plant:
    """One plant database with its envelope (a real keyring, cheap KDF)."""

    path: Path
    sessions: sessionmaker[Session]
    sealer: Envelope
    settings: ServerConfig


@contextmanager
def built_plant(
    folder: Path, name: str, extra: Sequence[Canary] = (), *, base: Path | None = None
) -> Iterator[Plant]:
    """The seeded plant (copied from ``base`` when given) plus ``extra`` canaries."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.db"
    keyring_path = folder / "keyring.json"
    if base is not None:
        shutil.copyfile(base, path)
    engine = create_engine_for(f"sqlite:///{path}")
    try:
        sessions = session_factory(engine)
        if keyring_path.exists():
            keyring = Keyring(keyring_path, SecretStr("leak suite"))
        else:
            keyring = Keyring.create(
                keyring_path, SecretStr("leak suite"), kdf=KdfParams.insecure_for_tests()
            )
        sealer = Envelope(keyring, SqlDataKeyStore(sessions))
        if base is None:
            upgrade_to_head(engine)
            import_records(sessions, site_id=SITE, records=seed_plant().records, sealer=sealer,
                           actor="cli:seed", audit=AuditTrail())  # fmt: skip
        if extra:
            import_records(sessions, site_id=SITE, records=[c.record for c in extra], sealer=sealer,
                           actor="cli:seed", audit=AuditTrail())  # fmt: skip
        settings = ServerConfig(kind="server", site_id=SITE, data_dir=folder / "data")
        yield Plant(path, sessions, sealer, settings)
    finally:
        engine.dispose()


@dataclass
class LeakReport:
    asked: int = 0
    refused: int = 0
    denied: int = 0
    leaks: list[str] = field(default_factory=list)
    interference: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)


def _answer(
    plant: Plant,
    engine: PolicyEngine,
    profile: Profile,
    workflow: str,
    question: str,
    rephraser: Rephraser | None = None,
) -> tuple[str, bool, str, str]:
    """(everything the person sees as text, refused, comparable form, who wrote it)."""
    try:
        person = principal(profile, now=NOW)
        a = ask(plant.sessions, settings=plant.settings, engine=engine, principal=person, question=question,
                workflow=workflow, sealer=plant.sealer, audit=AuditTrail(), now=NOW,
                rephraser=rephraser)  # fmt: skip
    except LineGuardError as exc:
        text = f"{exc.code}: {exc.message} {' '.join(exc.details)}"
        return text, True, text, "error"
    cites = [
        (c.n, c.category, c.record_type, c.source_key, c.title, tuple(c.lines or ())) for c in a.citations
    ]
    visible = " ".join([a.answer, a.scope, *(" ".join(map(str, c)) for c in cites)])
    comparable = repr((a.answer, a.scope, a.refused, cites, [(s.text, s.cites) for s in a.sentences]))
    outcome = f"fallback:{a.fallback}" if a.fallback else a.answerer
    return visible, a.refused, comparable, outcome


def run_leak_suite(
    folder: Path,
    questions: Sequence[str],
    *,
    profiles: Iterable[Profile] = PROFILES,
    interference: bool = True,
    rephraser: Rephraser | None = None,
) -> LeakReport:
    """Ask every question as every profile in every workflow (granted or not); see the module docstring."""
    engine = PolicyEngine.load()
    planted = canaries()
    report = LeakReport()
    with built_plant(folder, "base") as base:  # closed before it is copied (WAL checkpointed)
        config = base.settings.assistant
    with ExitStack() as stack:
        full = stack.enter_context(built_plant(folder, "full", planted, base=base.path))
        clean_plants: dict[frozenset[str], Plant] = {}
        for profile in profiles:
            person = principal(profile, now=NOW)
            granted = {w.name: w for w in workflows_for(config, person, NOW)}
            for workflow in [w.name for w in config.workflows]:
                flow = granted.get(workflow)
                hidden = planted
                if flow is not None:
                    scope = effective_scope(engine, person, flow, site=SITE, now=NOW)
                    hidden = [
                        c for c in planted if not scope.readable(c.record.category, Scope.of(c.record.lines))
                    ]
                visible = [c for c in planted if c not in hidden]
                key = frozenset(c.record.source_key for c in visible)
                if interference and flow is not None and key not in clean_plants:
                    name = f"clean{len(clean_plants)}"
                    clean_plants[key] = stack.enter_context(
                        built_plant(folder, name, visible, base=base.path)
                    )
                for question in questions:
                    text, refused, comparable, outcome = _answer(
                        full, engine, profile, workflow, question, rephraser
                    )
                    report.asked += 1
                    report.outcomes[outcome] += 1
                    report.refused += refused
                    report.denied += flow is None
                    report.leaks += [
                        f"{profile.name}/{workflow}: {question!r} leaked {t}" for t in leaks(text, hidden)
                    ]
                    if interference and flow is not None:
                        _, _, without, _ = _answer(
                            clean_plants[key], engine, profile, workflow, question, rephraser
                        )
                        if without != comparable:
                            report.interference.append(
                                f"{profile.name}/{workflow}: {question!r}\n  with hidden: {comparable[:400]}"
                                f"\n  without:     {without[:400]}"
                            )
    return report
