"""``LiveCa``: a running process follows ``ca rotate`` / ``retire`` on disk, and never half-takes a change."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from lineguard.server.evidence_views.peers import RelayTls
from lineguard.server.evidence_views.scheduled import RELAY_SWITCH_AFTER_S, relay_certificate_due
from lineguard.server.pki import LiveCa, PlantCa, ca_paths, retire_previous_ca, start_ca_rotation
from lineguard.server.pki.files import write_replacing

PASSPHRASE = SecretStr("live ca test passphrase")


def _live(tmp_path: Path) -> tuple[PlantCa, LiveCa]:
    ca = PlantCa.create(tmp_path, PASSPHRASE, site_id="plant-a")
    ca.issue_server_certificate(tmp_path, names=["127.0.0.1"])
    return ca, LiveCa(tmp_path, lambda: PlantCa.load(tmp_path, PASSPHRASE), ca)


def test_a_rotation_and_a_retirement_are_re_read_once_each_and_told_to_subscribers(tmp_path: Path) -> None:
    old, live = _live(tmp_path)
    told: list[PlantCa] = []
    live.subscribe(told.append)
    assert live.refresh() is False  # nothing changed: one stat per file, no load
    assert (live.generation, live.changed_at, told) == (0, None, [])

    rotation = start_ca_rotation(tmp_path, PASSPHRASE, site_id="plant-a")
    assert live.refresh() is True
    during = live.get()
    assert during.fingerprint_sha256 == rotation.current_fingerprint != old.fingerprint_sha256
    assert during.previous is not None and during.serving_fingerprint == old.fingerprint_sha256
    assert told == [during] and live.generation == 1 and live.changed_at is not None
    assert live.refresh() is False  # seen once

    retire_previous_ca(tmp_path, PASSPHRASE, server_names=["127.0.0.1"])
    after = live.current()  # issuing paths look first: never the retired CA, even between loop passes
    assert after.previous is None and after.serving_fingerprint == rotation.current_fingerprint
    assert told == [during, after] and live.generation == 2


def test_a_change_that_cannot_be_read_keeps_the_ca_in_use_and_is_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old, live = _live(tmp_path)
    paths = ca_paths(tmp_path)
    aside = tmp_path / "key.aside"
    paths.key.replace(aside)  # as between two renames of a rotation
    with caplog.at_level(logging.WARNING, logger="lineguard.server.pki.live"):
        assert live.refresh() is False
        assert live.refresh() is False
    assert live.get() is old and live.generation == 0
    said = [r.getMessage() for r in caplog.records if "cannot be read yet" in r.getMessage()]
    assert len(said) == 1 and "no plant CA" in said[0]  # said once, with the reason

    aside.replace(paths.key)
    write_replacing(paths.trust_bundle, old.trust_pem.encode("ascii"))  # the files changed again
    assert live.refresh() is True and live.get() is not old


def test_a_wrong_passphrase_on_re_read_keeps_the_ca_in_use(tmp_path: Path) -> None:
    ca = PlantCa.create(tmp_path, PASSPHRASE, site_id="plant-a")
    live = LiveCa(tmp_path, lambda: PlantCa.load(tmp_path, SecretStr("not the passphrase at all")), ca)
    start_ca_rotation(tmp_path, PASSPHRASE, site_id="plant-a")
    assert live.refresh() is False and live.get() is ca


def test_nothing_loaded_yet_loads_the_files_as_they_are(tmp_path: Path) -> None:
    PlantCa.create(tmp_path, PASSPHRASE, site_id="plant-a")
    live = LiveCa(tmp_path, lambda: PlantCa.load(tmp_path, PASSPHRASE))
    assert live.refresh() is False and not live.built
    rotation = start_ca_rotation(tmp_path, PASSPHRASE, site_id="plant-a")
    assert live.current().fingerprint_sha256 == rotation.current_fingerprint
    assert live.refresh() is False  # loaded after the change: nothing new to follow


def test_the_relay_certificate_moves_to_the_new_ca_after_the_switch_delay_and_at_once_after_retirement(
    tmp_path: Path,
) -> None:
    old, live = _live(tmp_path)
    tls = RelayTls(
        old.issue_replica_certificate(replica_id="rep-a", host="127.0.0.1"), ca_paths(tmp_path).trust
    )
    renew_before = timedelta(days=1)
    assert relay_certificate_due(tls, live, renew_before) is False
    start_ca_rotation(tmp_path, PASSPHRASE, site_id="plant-a")
    live.refresh()
    assert live.changed_at is not None
    seen = live.changed_at
    # still trusted by every process that has not looked yet: kept for the switch delay
    assert relay_certificate_due(tls, live, renew_before, now_monotonic=seen + 1) is False
    assert relay_certificate_due(tls, live, renew_before, now_monotonic=seen + RELAY_SWITCH_AFTER_S) is True
    tls.renew(live.get().issue_replica_certificate(replica_id="rep-a", host="127.0.0.1"))
    assert tls.issuer == live.get().certificate.subject
    assert relay_certificate_due(tls, live, renew_before, now_monotonic=seen + 100) is False

    stale = RelayTls(
        old.issue_replica_certificate(replica_id="rep-b", host="127.0.0.1"), ca_paths(tmp_path).trust
    )
    retire_previous_ca(tmp_path, PASSPHRASE, server_names=["127.0.0.1"])
    live.refresh()
    assert relay_certificate_due(stale, live, renew_before, now_monotonic=live.changed_at) is True  # at once
    assert relay_certificate_due(tls, live, renew_before, now_monotonic=live.changed_at) is False
    # one near its end is renewed whatever its CA
    assert relay_certificate_due(tls, live, timedelta(days=400)) is True


def test_a_subscriber_that_failed_is_told_again_at_the_next_look_until_it_follows(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The relay's retrust after a rotation, its trust bundle unreadable at that instant."""
    old, live = _live(tmp_path)
    relay_trust = tmp_path / "relay-trust.pem"  # what the relay verifies peers against
    relay_trust.write_bytes(ca_paths(tmp_path).trust.read_bytes())
    tls = RelayTls(old.issue_replica_certificate(replica_id="rep-a", host="127.0.0.1"), relay_trust)
    tries: list[PlantCa] = []

    def retrust(ca: PlantCa) -> None:
        tries.append(ca)
        tls.retrust(relay_trust)

    live.subscribe(retrust)
    start_ca_rotation(tmp_path, PASSPHRASE, site_id="plant-a")
    relay_trust.unlink()  # gone at the instant the change is told
    with caplog.at_level(logging.WARNING, logger="lineguard.server.pki.live"):
        assert live.refresh() is True
        assert live.refresh() is False  # still unreadable: tried again, said once
    assert len(tries) == 2 and len(tls.server.get_ca_certs()) == 1  # the old CA alone, still
    assert len([r for r in caplog.records if "subscriber to plant CA changes failed" in r.getMessage()]) == 1

    relay_trust.write_bytes(ca_paths(tmp_path).trust.read_bytes())  # new + old: no CA file changed
    assert live.refresh() is False
    assert len(tries) == 3 and tries[-1] is live.get()
    assert len(tls.server.get_ca_certs()) == len(tls.client.get_ca_certs()) == 2  # it follows now
    assert live.refresh() is False and len(tries) == 3  # and is not told again
