"""Plant assistant benchmark: answer latency on many records, the full leak suite, correctness.

    .venv/bin/python bench/bench_assistant.py --speed [--records 100000] [--db sqlite|postgresql] [--keep DIR]
    .venv/bin/python bench/bench_assistant.py --leak [--no-interference] [--answerer builtin|llm]
        [--questions N]
    .venv/bin/python bench/bench_assistant.py --correctness
    .venv/bin/python bench/bench_assistant.py --llm-speed [--repeats 3]

``--speed`` loads ``--records`` structured records (the seed plant scaled up, every body
sealed under a real keyring through ``upsert_records`` in batches of 5,000, so the
terms, lines and data keys are all there) and asks a fixed set of questions — counts,
sums, top-N, a monthly trend, a line comparison, lookups, a word search — as a
line-scoped production supervisor and a site-wide finance controller, each question
``--repeats`` times, through :func:`lineguard.server.assistant.ask` (question log and
audit included). Baselines in the same run: the same questions with every figure read
from the records instead of the daily rollups ("records only", the path before
plantdata_0004), and with the authorization filter replaced by "everything" (an
unscoped superuser that LineGuard does not have), so the ratios are what the rollups
save and what deciding before retrieval costs. ``--keep DIR`` keeps the generated
database (and keyring) there and reuses it: generating 1 M sealed records takes
15–20 minutes on the shared machine.

``--leak`` runs every adversarial question (tests/support/assistant_suite.py) as every
profile in every workflow, with the non-interference check unless told not to.
``--correctness`` asks the 112 known-answer questions as every profile.

``--answerer llm`` puts the in-process language model (gemma3-270m Q4_K_M under
llama-cpp-python, the ``llm`` extra) behind the grounding check on every answer of the
leak suite, and counts how often its text was used and why it fell back. At about a
second or more per model answer on 2 cores, ``--questions N`` takes an evenly spread
subset of the adversarial questions (every k-th, so every family is in it).
The model is asked through :class:`_SameInputSameText`: decoding is greedy with a fixed
seed, so an input already answered gets the text it got before instead of a second
generation. That makes the full suite (the same facts reach the model from many
profiles and workflows) a few hours of CPU instead of a day; the counts printed are of
generations and of answers, separately.

``--llm-speed`` measures the model on the permitted facts of the ``--speed`` questions
(seeded plant): time to first token, generated tokens per second, whole answer; the
baseline in the same run is the built-in answer to the same question (no model). The
load average is printed: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr
from sqlalchemy import func, select
from tests.support.assistant_suite import adversarial_questions, score_profile
from tests.support.gemma import gemma_config, missing
from tests.support.leak_run import NOW, built_plant, run_leak_suite
from tests.support.plant import PROFILES, SITE, canaries, principal, seed_plant
from tests.support.postgres import postgres_cluster
from tests.unit.server.conftest import AuditTrail

from lineguard.config.egress import EgressConfig
from lineguard.config.server import ServerConfig
from lineguard.crypto import Envelope, KdfParams, Keyring
from lineguard.server.assistant import BuiltinAnswerer, EffectiveScope, ask, effective_scope, workflow_named
from lineguard.server.assistant import queries as queries_module
from lineguard.server.assistant import service as service_module
from lineguard.server.assistant.rephrase import (
    Completion,
    LlamaCppModel,
    Rephraser,
    build_rephraser,
    permitted_facts,
    prompt_messages,
)
from lineguard.server.auth import Category, PolicyEngine
from lineguard.server.egress import EgressGate
from lineguard.server.keystore import SqlDataKeyStore
from lineguard.server.plantdata import CategoryScope, PlantRecordRow, index_key, upsert_records
from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head

SPEED_QUESTIONS = {
    "ps-line2": (
        "production_assistant",
        (
            "How many production orders are there on line 2?",
            "What is the total quantity produced?",
            "Top 3 parts by units produced",
            "Monthly trend of units produced",
            "Which machine had the most downtime?",
            "How many units were rejected in November 2026?",
            "Show production order PO-2002",
            "What was the result of lot LOT-3002?",
            "How do I inspect castings for porosity?",
        ),
    ),
    "fc-site": (
        "finance_review",
        (
            "What is the total order value?",
            "Which customer has the highest order value?",
            "Compare order value per line",
            "What is the unit price of P-200 from Borealis Castings?",
            "How many sales orders for Zephyr Motors?",
            "What is the total stock value?",
        ),
    ),
}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


#: The service's own scope function, swapped for the baseline and put back after it.
original_scope = vars(service_module)["effective_scope"]
#: The current code, every figure from the records (before the rollups), and unscoped.
MODES = ("scoped", "scoped, records only", "unscoped baseline")
#: How the queries decide whether rollup cells can answer a figure (swapped for "records only").
original_cells = vars(queries_module)["rollup_where"]


def _everything(engine, principal, workflow, *, site, now, line_filter=None):  # type: ignore[no-untyped-def]
    scopes = tuple(CategoryScope(Category(c), True, frozenset()) for c in workflow.categories)
    return EffectiveScope(workflow, scopes, line_filter)


def _no_cells(*_args, **_kwargs):  # type: ignore[no-untyped-def]
    return None


def speed(records: int, db: str, repeats: int, keep: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        folder = Path(tmp) if keep is None else keep
        folder.mkdir(parents=True, exist_ok=True)
        name = f"assistant_bench_{records}"
        if db == "postgresql":
            base = stack.enter_context(postgres_cluster(keep=None if keep is None else keep / "pg"))
            import psycopg

            with psycopg.connect(base.replace("+psycopg", "") + "/postgres", autocommit=True) as c:
                if c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                    c.execute(f'CREATE DATABASE "{name}"')
            url = f"{base}/{name}"
        else:
            url = f"sqlite:///{folder / f'{name}.db'}"
        engine = create_engine_for(url)
        try:
            upgrade_to_head(engine)
            sessions = session_factory(engine)
            keyring_file = folder / "k.json"
            keyring = (
                Keyring(keyring_file, SecretStr("bench"))
                if keyring_file.exists()
                else Keyring.create(keyring_file, SecretStr("bench"), kdf=KdfParams.insecure_for_tests())
            )
            sealer = Envelope(keyring, SqlDataKeyStore(sessions))
            key = index_key(sessions, site_id=SITE, sealer=sealer)
            plant = seed_plant(scale=max(1, records // 190)).records
            with sessions() as session:
                stored = session.scalar(select(func.count()).select_from(PlantRecordRow)) or 0
            # A kept database is reused: batches commit whole and in order, so an interrupted
            # load resumes at the first batch not stored.
            first = stored // 5000 * 5000
            started = time.perf_counter()
            for start in range(first, len(plant), 5000):
                with sessions.begin() as session:
                    upsert_records(
                        session,
                        site_id=SITE,
                        records=plant[start : start + 5000],
                        sealer=sealer,
                        key=key,
                        actor="cli:bench",
                        audit=AuditTrail(),
                    )
            load_s = time.perf_counter() - started
            with engine.begin() as connection:  # fresh planner statistics, as autovacuum would give them
                connection.exec_driver_sql("ANALYZE")
            loaded = len(plant) - first
            print(
                f"{db}: {len(plant)} records ({stored} kept from an earlier run), {loaded} loaded in "
                f"{load_s:.0f} s ({loaded / max(load_s, 1e-9):.0f} records/s)"
            )
            settings = ServerConfig(kind="server", site_id=SITE, data_dir=folder / "d")
            policy = PolicyEngine.load()
            people = {p.name: p for p in PROFILES}
            # The modes take turns question by question, so load on the shared machine falls on all
            # three alike. "Unscoped" swaps the service's scope function for "everything in the
            # workflow's categories": a benchmark-only stand-in, never reachable in the server.
            # "Records only" reads every figure from the records, as before the rollups.
            times: dict[tuple[str, str], list[float]] = {(m, w): [] for m in MODES for w in SPEED_QUESTIONS}
            for _ in range(repeats):
                for who, (workflow, questions) in SPEED_QUESTIONS.items():
                    person = principal(people[who], now=NOW)
                    for k, question in enumerate(questions):
                        for mode in MODES[k % 3 :] + MODES[: k % 3]:  # who goes first rotates
                            scope_fn = _everything if mode.startswith("unscoped") else original_scope
                            vars(service_module)["effective_scope"] = scope_fn
                            cells_fn = _no_cells if mode.endswith("records only") else original_cells
                            vars(queries_module)["rollup_where"] = cells_fn
                            try:
                                t = time.perf_counter()
                                ask(
                                    sessions,
                                    settings=settings,
                                    engine=policy,
                                    principal=person,
                                    question=question,
                                    workflow=workflow,
                                    sealer=sealer,
                                    audit=AuditTrail(),
                                    now=NOW,
                                )
                                times[(mode, who)].append((time.perf_counter() - t) * 1000)
                            finally:
                                vars(service_module)["effective_scope"] = original_scope
                                vars(queries_module)["rollup_where"] = original_cells
            for (mode, who), taken in times.items():
                print(
                    f"  {mode:21s} {who:9s} {len(taken):4d} answers  p50 {_pct(taken, 0.5):6.1f} ms  "
                    f"p95 {_pct(taken, 0.95):6.1f} ms  max {max(taken):6.1f} ms"
                )
        finally:
            engine.dispose()


class _SameInputSameText:
    """A :class:`LlamaCppModel` that generates once per distinct input (greedy, seed 0).

    Only the leak run uses it: the check is on what reaches the person, and a repeated
    input would produce the same text again. A timed-out generation is not kept.
    """

    def __init__(self, inner: LlamaCppModel) -> None:
        self._inner = inner
        self._done: dict[str, Completion] = {}
        self.generated = 0
        self.reused = 0

    @property
    def model(self) -> str:
        return self._inner.model

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int, timeout_s: float) -> Completion:
        key = json.dumps([messages, max_tokens], sort_keys=True)
        if key in self._done:
            self.reused += 1
            return self._done[key]
        done = self._inner.complete(messages, max_tokens=max_tokens, timeout_s=timeout_s)
        self.generated += 1
        if done.finish_reason != "timeout":
            self._done[key] = done
        return done


def _gemma_once_per_input(max_tokens: int) -> tuple[Rephraser, list[_SameInputSameText]]:
    reason = missing()
    if reason is not None:
        sys.exit(f"--answerer llm needs the real model: {reason}")
    config = gemma_config(max_tokens=max_tokens)
    made: list[_SameInputSameText] = []

    def build() -> _SameInputSameText:
        made.append(_SameInputSameText(LlamaCppModel(config)))
        return made[-1]

    rephraser = Rephraser(
        build,
        label=config.model_path.name,
        max_tokens=config.max_tokens,
        timeout_s=config.timeout_s,
        max_fact_records=config.max_fact_records,
    )
    return rephraser, made


def _gemma(max_tokens: int = 128) -> Rephraser:
    reason = missing()
    if reason is not None:
        sys.exit(f"--answerer llm needs the real model: {reason}")
    rephraser = build_rephraser(gemma_config(max_tokens=max_tokens), EgressGate(EgressConfig()))
    assert rephraser is not None
    return rephraser


def leak(interference: bool, answerer: str, subset: int | None) -> None:
    questions = adversarial_questions(canaries())
    if subset is not None and subset < len(questions):
        step = len(questions) / subset
        questions = [questions[int(i * step)] for i in range(subset)]
    rephraser, made = _gemma_once_per_input(max_tokens=64) if answerer == "llm" else (None, [])
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        report = run_leak_suite(Path(tmp), questions, interference=interference, rephraser=rephraser)
        took = time.perf_counter() - started
    checked = len(report.interference) if interference else "not checked"
    print(
        f"leak suite ({answerer}): {len(questions)} questions × {len(PROFILES)} profiles × 5 workflows = "
        f"{report.asked} asks in {took:.0f} s; refused or denied {report.refused} (denied {report.denied}); "
        f"leaks {len(report.leaks)}; interference {checked}; load average {os.getloadavg()[0]:.1f}"
    )
    if rephraser is not None:
        print("  who wrote the answers: " + ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items())))
        generated = sum(m.generated for m in made)
        reused = sum(m.reused for m in made)
        print(f"  model generations {generated}, inputs seen before (same text reused) {reused}")
    for line in report.leaks[:20] + report.interference[:10]:
        print("  " + line)


def correctness() -> None:
    with tempfile.TemporaryDirectory() as tmp, built_plant(Path(tmp), "seeded") as plant:
        for profile in PROFILES:
            score = score_profile(plant, profile)
            share = 100 * score.right / score.total
            unreadable = len(score.unreadable)
            print(
                f"  {profile.name:14s} {score.right}/{score.total} = {share:.1f} %, unreadable {unreadable}"
            )


def llm_speed(repeats: int) -> None:
    """Time to first token and tokens/s of the in-process model on real permitted facts."""
    reason = missing()
    if reason is not None:
        sys.exit(f"--llm-speed needs the real model: {reason}")
    config = gemma_config(max_tokens=128)
    started = time.perf_counter()
    model = LlamaCppModel(config)
    print(f"model {model.model} ({model.model_version}) loaded in {time.perf_counter() - started:.1f} s")
    policy = PolicyEngine.load()
    people = {p.name: p for p in PROFILES}
    first, rates, totals, builtin_ms, prompt_chars = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp, built_plant(Path(tmp), "seeded") as plant:
        key = index_key(plant.sessions, site_id=SITE, sealer=plant.sealer)
        for who, (workflow, questions) in SPEED_QUESTIONS.items():
            person = principal(people[who], now=NOW)
            flow = workflow_named(plant.settings.assistant, workflow)
            scope = effective_scope(policy, person, flow, site=SITE, now=NOW)
            for question in questions:
                t = time.perf_counter()
                with plant.sessions() as session:
                    draft = BuiltinAnswerer().answer(session, scope, question, key=key, sealer=plant.sealer)
                    facts = permitted_facts(
                        session,
                        scope,
                        draft.sentences,
                        sealer=plant.sealer,
                        max_records=config.max_fact_records,
                    )
                builtin_ms.append((time.perf_counter() - t) * 1000)
                if not facts.sentences:
                    continue
                messages = prompt_messages(facts)
                prompt_chars.append(sum(len(m["content"]) for m in messages))
                for _ in range(repeats):
                    done = model.complete(messages, max_tokens=config.max_tokens, timeout_s=config.timeout_s)
                    if done.first_token_s is None or done.completion_tokens < 2:
                        continue
                    first.append(done.first_token_s * 1000)
                    totals.append(done.total_s * 1000)
                    rates.append((done.completion_tokens - 1) / max(done.total_s - done.first_token_s, 1e-6))
    print(
        f"language model on {len(first)} answers "
        f"(prompts {min(prompt_chars)}–{max(prompt_chars)} characters), "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs:\n"
        f"  time to first token p50 {_pct(first, 0.5):.0f} ms  p95 {_pct(first, 0.95):.0f} ms\n"
        f"  generation          p50 {_pct(rates, 0.5):.1f} tokens/s  min {min(rates):.1f} tokens/s\n"
        f"  whole answer        p50 {_pct(totals, 0.5):.0f} ms  p95 {_pct(totals, 0.95):.0f} ms\n"
        f"  baseline, built-in answer to the same questions: p50 {_pct(builtin_ms, 0.5):.1f} ms "
        f"(model answer / built-in p50 = {_pct(totals, 0.5) / _pct(builtin_ms, 0.5):.0f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--leak", action="store_true")
    parser.add_argument("--correctness", action="store_true")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-interference", action="store_true")
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="keep the generated database (and its keyring) in this folder and reuse it in later runs",
    )
    parser.add_argument("--answerer", choices=("builtin", "llm"), default="builtin")
    parser.add_argument("--questions", type=int, default=None, help="--leak: an evenly spread subset")
    parser.add_argument("--llm-speed", action="store_true")
    args = parser.parse_args()
    if args.speed:
        speed(args.records, args.db, args.repeats, args.keep)
    if args.leak:
        leak(not args.no_interference, args.answerer, args.questions)
    if args.correctness:
        correctness()
    if args.llm_speed:
        llm_speed(args.repeats)
    if not (args.speed or args.leak or args.correctness or args.llm_speed):
        parser.print_help()


if __name__ == "__main__":
    main()
