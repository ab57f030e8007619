"""Entry hashes are JCS-canonical SHA-256; the Merkle frontier gives the RFC 6962 root."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lineguard.contracts.errors import AuditChainError
from lineguard.crypto import canonical_json
from lineguard.server.audit import MerkleFrontier, entry_hash


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 2**53),
    st.text(max_size=20),
    st.text(max_size=20),
    st.dictionaries(
        st.text(max_size=8), st.one_of(st.text(max_size=10), st.integers(-1000, 1000), st.none())
    ),
)
def test_entry_hash_is_sha256_of_the_canonical_json(
    seq: int, actor: str, name: str, payload: dict[str, object]
) -> None:
    fields = {
        "seq": seq,
        "event_id": "aud_1",
        "recorded_at": "2026-01-01T00:00:00.000000Z",
        "name": name,
        "actor": actor,
        "outcome": "success",
        "prev_hash": "0" * 64,
    }
    expected = hashlib.sha256(canonical_json({**fields, "payload": payload})).hexdigest()
    try:
        text = canonical_json(payload).decode()
    except UnicodeEncodeError:
        return  # lone surrogates have no UTF-8 form at all
    assert entry_hash(payload=text, **fields) == expected  # type: ignore[arg-type]


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 Merkle Tree Hash, written the way the RFC defines it (recursively)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def test_frontier_root_matches_rfc6962_for_every_size() -> None:
    frontier = MerkleFrontier()
    leaves: list[bytes] = []
    assert frontier.root() == _mth([]).hex()
    for i in range(70):
        h = hashlib.sha256(str(i).encode()).hexdigest()
        frontier.append_entry(h)
        leaves.append(bytes.fromhex(h))
        assert frontier.root() == _mth(leaves).hex(), i
        assert frontier.size == i + 1
        again = MerkleFrontier.from_json(frontier.to_json())
        assert again.root() == frontier.root()


@pytest.mark.parametrize(
    "text",
    ["nope", '[[0, "zz"]]', json.dumps([[0, "00" * 32], [0, "00" * 32]]), '[[-1, "' + "00" * 32 + '"]]'],
)
def test_malformed_frontier_refused(text: str) -> None:
    with pytest.raises(AuditChainError, match="frontier"):
        MerkleFrontier.from_json(text)
