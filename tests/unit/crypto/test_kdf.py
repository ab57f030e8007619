from __future__ import annotations

import logging

import pytest

from lineguard.contracts.errors import CryptoError
from lineguard.crypto import KdfParams


def test_production_refuses_test_strength_parameters() -> None:
    with pytest.raises(CryptoError, match="test-strength"):
        KdfParams(n=2**10)


def test_defaults_are_memory_hard() -> None:
    params = KdfParams()
    assert (params.n, params.r) == (2**17, 8)
    assert len(params.salt) == 16


@pytest.mark.parametrize("n", [3, 2**23, 0])
def test_out_of_range_cost_refused(n: int) -> None:
    with pytest.raises(CryptoError):
        KdfParams(n=n, _testing=True)


def test_round_trip_and_weak_file_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    weak = KdfParams.insecure_for_tests()
    with caplog.at_level(logging.WARNING):
        again = KdfParams.from_json(weak.to_json())
    assert again == weak
    assert "test-strength" in caplog.text
    assert again.derive("pw") == weak.derive("pw")


@pytest.mark.parametrize(
    "doc", [{}, {"alg": "pbkdf2", "n": 1024, "r": 8, "p": 1, "salt": "AAAA"}, {"alg": "scrypt", "n": "x"}]
)
def test_malformed_parameters_refused(doc: dict[str, object]) -> None:
    with pytest.raises(CryptoError):
        KdfParams.from_json(doc)
