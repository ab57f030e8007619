"""``Once``: what is expensive or needs a secret is built exactly once, even when many
first requests arrive together, and a failed build is tried again next time."""

from __future__ import annotations

import threading
import time

import pytest

from lineguard.contracts.errors import ConfigError
from lineguard.server.once import Once


def test_concurrent_first_uses_build_exactly_once() -> None:
    builds: list[int] = []
    start = threading.Barrier(8)

    def build() -> object:
        builds.append(1)
        time.sleep(0.05)  # long enough for every other thread to arrive while it builds
        return object()

    once: Once[object] = Once(build)
    got: list[object] = []

    def first_request() -> None:
        start.wait()
        got.append(once.get())

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1
    assert len(got) == 8 and all(g is got[0] for g in got)
    assert once.built


def test_a_failed_build_is_not_remembered() -> None:
    attempts: list[int] = []

    def build() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            msg = "pki.ca_passphrase is not set"
            raise ConfigError(msg)
        return "the CA"

    once = Once(build)
    with pytest.raises(ConfigError, match="ca_passphrase"):
        once.get()
    assert not once.built
    assert once.get() == "the CA"
    assert once.get() == "the CA" and len(attempts) == 2


def test_a_preseeded_value_is_never_built() -> None:
    def build() -> str:
        raise AssertionError

    assert Once(build, "given").get() == "given"
    assert Once.of("given").built and Once.of("given").get() == "given"
