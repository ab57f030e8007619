"""When ``lineguard ca retire`` is refused: what could not follow a retirement right now.

Real CA files and a real database on both engines. The nodes still on the previous CA
are covered with real TLS in ``nodes/test_ca_rotation.py``; here: an unused enrollment
token (it pins the CA serving during the overlap, the previous one) and a rotation too
young for the replicas to have moved their relay certificates. Each refusal names its
reason and changes nothing; ``--force`` names what it leaves behind in the audit event.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from lineguard.config.server import ServerConfig
from lineguard.contracts.errors import ConflictError
from lineguard.server.admin import MIN_OVERLAP, load_ca, retire_ca, rotate_ca
from lineguard.server.pki import ca_paths, rotation_started_at
from lineguard.server.storage import session_factory
from tests.unit.server.conftest import issue_node_token, plant_with_ca


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ServerConfig:
    return plant_with_ca(tmp_path / "server", monkeypatch)


def _token(settings: ServerConfig, engine: Engine, node_id: str, *, ttl: timedelta, now: datetime) -> None:
    with session_factory(engine)() as session:
        issue_node_token(session, load_ca(settings), node_id, ttl=ttl, now=now)


def _overlapping(settings: ServerConfig) -> bool:
    paths = ca_paths(settings.data_dir)
    return paths.previous_cert.exists() and paths.previous_key.exists()


def test_retiring_right_after_rotating_is_refused_until_the_minimum_overlap(
    settings: ServerConfig, engine: Engine
) -> None:
    rotate_ca(settings)
    started = rotation_started_at(load_ca(settings))
    with (
        session_factory(engine)() as session,
        pytest.raises(ConflictError, match=r"the rotation is \d+ s old"),
    ):
        retire_ca(settings, session, now=started + timedelta(seconds=5))
    assert _overlapping(settings)  # refused: nothing moved
    with session_factory(engine)() as session:
        retired = retire_ca(settings, session, now=started + MIN_OVERLAP)
        session.commit()
    assert not _overlapping(settings)
    assert retired.overlap_s == int(MIN_OVERLAP.total_seconds())
    assert (retired.stranded_nodes, retired.stranded_tokens, retired.certificates_revoked) == ([], [], 0)


def test_an_unused_token_pins_the_previous_ca_and_is_named(settings: ServerConfig, engine: Engine) -> None:
    now = datetime.now(UTC)
    _token(settings, engine, "node-before", ttl=timedelta(hours=24), now=now)  # made before the rotation
    _token(settings, engine, "node-expired", ttl=timedelta(minutes=1), now=now - timedelta(minutes=5))
    rotate_ca(settings)
    _token(
        settings, engine, "node-during", ttl=timedelta(hours=24), now=now
    )  # pins the serving (previous) CA
    later = rotation_started_at(load_ca(settings)) + timedelta(hours=1)
    with session_factory(engine)() as session, pytest.raises(ConflictError) as refused:
        retire_ca(settings, session, now=later)
    text = str(refused.value)
    assert "2 unused enrollment token(s) pin the previous CA" in text
    assert "node-before, node-during" in text and "node-expired" not in text
    assert "rotation is" not in text  # an hour old: only the tokens stand in the way
    assert _overlapping(settings)

    with session_factory(engine)() as session:
        retired = retire_ca(settings, session, force=True, now=later)
        session.commit()
    assert retired.stranded_tokens == ["node-before", "node-during"]
    assert not _overlapping(settings)


def test_every_reason_is_named_at_once(settings: ServerConfig, engine: Engine) -> None:
    rotate_ca(settings)
    _token(settings, engine, "node-new", ttl=timedelta(hours=1), now=datetime.now(UTC))
    with session_factory(engine)() as session, pytest.raises(ConflictError) as refused:
        retire_ca(settings, session)
    text = str(refused.value)
    assert "1 unused enrollment token(s)" in text and "the rotation is" in text and "--force" in text
