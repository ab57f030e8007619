"""``rows.seal_all``: each item's field sealed for its own record, in the items' order, a
missing field left None (batches mixing items with and without one, and batches where
every item has one: a line's events with a part id each)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from lineguard.contracts.events import IngestBatch, InspectionEvent
from lineguard.crypto import Envelope, KdfParams, Keyring, SqliteDataKeyStore
from lineguard.server.ingest.rows import seal_all
from lineguard.server.keystore import BUCKETED_CATEGORIES
from tests.unit.server.ingest import factory

T0 = datetime(2026, 3, 2, 6, 59, 59, tzinfo=UTC)


@pytest.fixture
def envelope(tmp_path: Path) -> Iterator[Envelope]:
    passphrase = SecretStr("seal all " * 3)
    keyring = Keyring.create(tmp_path / "k.json", passphrase, kdf=KdfParams.insecure_for_tests())
    store = SqliteDataKeyStore(tmp_path / "datakeys.db")
    yield Envelope(keyring, store, bucketed=BUCKETED_CATEGORIES)
    store.close()


def _events(part_ids: list[str | None]) -> list[InspectionEvent]:
    # Two hours, so the batch's records fall under two bucket keys.
    bodies = [
        factory.event("node-1", part_id=p, key=f"idk-{i}", at=T0 + timedelta(seconds=i))
        for i, p in enumerate(part_ids)
    ]
    return list(IngestBatch.model_validate(factory.batch("node-1", bodies, parts=[])).events)


@pytest.mark.parametrize(
    "part_ids",
    [["P-1", "P-2", "P-3"], ["P-1", None, "P-3", None], [None, "P-2"], [None, None]],
    ids=["every item", "some missing", "first missing", "none"],
)
def test_each_field_is_sealed_for_its_own_record_in_order(
    envelope: Envelope, part_ids: list[str | None]
) -> None:
    events = _events(part_ids)
    sealed = seal_all(envelope, events, "part_id", "inspection_events")
    assert len(sealed) == len(events)
    for event, blob in zip(events, sealed, strict=True):
        if event.part_id is None:
            assert blob is None
            continue
        assert blob is not None
        record = f"node-1:{event.idempotency_key}"
        assert envelope.open(blob, object_id=record, category="inspection_events") == event.part_id.encode()
