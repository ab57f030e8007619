"""Signed node-software updates through the registry's TUF repository (``software`` role).

The registry's repository is served over real HTTP (``world.py``); the node verifies a
bundle, unpacks it into a versioned slot and switches ``current`` (keeping
``previous``). One test per attack, as for models: the node refuses with the named
check, journals it, and keeps running what it ran.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from tuf.api.metadata import TargetFile

from lineguard.contracts.errors import CryptoError, InputError
from lineguard.edge.update import HttpxFetcher, SoftwareUpdater
from lineguard.signing import (
    SoftwareDecision,
    SoftwareRelease,
    VerificationError,
    build_software_bundle,
    software_bundle_target,
    software_release_target,
)
from tests.unit.edge.update.world import UpdateWorld

SITE = "plant-a"


def bundle(version: str) -> bytes:
    wheels = {f"lineguard-{version}-py3-none-any.whl": f"wheel {version}".encode(), "numpy-2.3.0.whl": b"np"}
    return build_software_bundle(version, wheels, f"lineguard=={version}\nnumpy==2.3.0\n")


def release_for(world: UpdateWorld, version: str, data: bytes, *, number: int | None = None,
                site: str = SITE) -> SoftwareRelease:  # fmt: skip
    return SoftwareRelease(
        site_id=site,
        release=number or world.registry.highest_software_release(SITE) + 1,
        version=version,
        bundle=software_bundle_target(SITE, version),
        bundle_sha256=hashlib.sha256(data).hexdigest(),
        bundle_length=len(data),
    )


def publish(world: UpdateWorld, version: str) -> SoftwareRelease:
    data = bundle(version)
    release = release_for(world, version, data)
    world.registry.publish_software(release, data)
    return release


#: What nodes reported (the reporter hook; ``link.software_reporter`` posts it to the server).
REPORTED: list[SoftwareDecision] = []


def node(world: UpdateWorld, site: str = SITE, client: httpx.Client | None = None) -> SoftwareUpdater:
    return SoftwareUpdater(
        reporter=REPORTED.append,
        data_dir=world.root / "edge-sw",
        site_id=site,
        metadata_url=f"{world.base_url}/metadata/",
        targets_url=f"{world.base_url}/targets/",
        fetcher=HttpxFetcher(client or httpx.Client(timeout=10)),
        initial_root=world.registry.repo.root_bytes(1),
    )


def refused(updater: SoftwareUpdater, check: str) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        updater.check()
    assert caught.value.check == check, caught.value.message
    last = updater.slots.decisions()[-1]
    assert (last["outcome"], last["check"]) == ("rejected", check)
    assert (REPORTED[-1].outcome, REPORTED[-1].check) == ("rejected", check)
    return caught.value


@pytest.fixture
def running(world: UpdateWorld) -> SoftwareUpdater:
    """A node that installed LineGuard 0.2.0 (release 1)."""
    publish(world, "0.2.0")
    updater = node(world)
    assert updater.check().status == "installed"
    return updater


def still_running(updater: SoftwareUpdater, version: str = "0.2.0") -> None:
    current = updater.slots.current()
    assert updater.slots.version_of(current) == version
    assert current is not None and (current / "wheels" / f"lineguard-{version}-py3-none-any.whl").exists()
    assert not any(updater.slots.staging_dir.glob("r*"))  # nothing refused is left to run


def test_leaving_the_updater_closes_its_connections(world: UpdateWorld) -> None:
    # `lineguard edge software check` leaves the server no keep-alive connection to wait for on
    # its shutdown (uvicorn waits for open connections before it stops).
    publish(world, "0.2.0")
    client = httpx.Client(timeout=10)
    with node(world, client=client) as updater:
        assert updater.check().status == "installed"
        assert not client.is_closed
    assert client.is_closed


def test_a_release_is_verified_unpacked_into_a_slot_and_the_previous_kept(world: UpdateWorld) -> None:
    publish(world, "0.2.0")
    updater = node(world)
    first = updater.check()
    assert first.status == "installed" and first.slot is not None
    assert (first.slot / "requirements.txt").read_text() == "lineguard==0.2.0\nnumpy==2.3.0\n"
    assert updater.check().status == "current"
    publish(world, "0.3.0")
    second = updater.check()
    assert second.status == "installed"
    assert updater.slots.version_of(updater.slots.current()) == "0.3.0"
    assert updater.slots.previous() == first.slot  # kept for rollback
    assert [d["outcome"] for d in updater.slots.decisions()] == ["verified", "installed"] * 2
    assert [d.outcome for d in REPORTED[-4:]] == ["verified", "installed"] * 2

    back = updater.rollback()
    assert back.slot == first.slot and updater.slots.version_of(updater.slots.current()) == "0.2.0"
    assert updater.slots.decisions()[-1]["outcome"] == "rolled_back"
    # Release 2 stays accepted: the node does not reinstall it by itself after a rollback.
    assert updater.check().status == "current"
    assert updater.slots.version_of(updater.slots.current()) == "0.2.0"


def test_the_targets_key_alone_cannot_ship_node_software(
    world: UpdateWorld, running: SoftwareUpdater
) -> None:
    """A compromised online targets key (the one that publishes models) lists a release and
    bundle itself: TUF would find them, but they are not the software role's, so: unsigned."""
    repo = world.registry.repo
    with pytest.raises(InputError, match="signed by the software role only"):
        repo.put_targets({software_release_target(SITE): b"{}"})
    data = bundle("6.6.6")
    release = release_for(world, "6.6.6", data)
    targets_md = repo.targets()  # below the API, as the attacker would
    for path, content in ((software_release_target(SITE), release.to_bytes()), (release.bundle, data)):
        info = TargetFile.from_data(path, content, ["sha256"])
        if path.endswith("release.json"):
            info.unrecognized_fields["custom"] = release.custom()
        (repo.targets_dir / repo._stored_name(path, info.hashes["sha256"])).parent.mkdir(
            parents=True, exist_ok=True
        )
        (repo.targets_dir / repo._stored_name(path, info.hashes["sha256"])).write_bytes(content)
        targets_md.signed.targets[path] = info
    targets_md.signed.version += 1
    repo._publish(repo.root().signed, targets_md, now=datetime.now(UTC))
    error = refused(running, "unsigned")
    assert "not signed by the software role" in error.message
    still_running(running)


def test_an_older_release_is_refused(world: UpdateWorld, running: SoftwareUpdater) -> None:
    """Rollback attack: the genuine, correctly signed release 1 is served again after release 2."""
    old = bundle("0.2.0")
    publish(world, "0.3.0")
    assert running.check().status == "installed"
    replay = release_for(world, "0.2.0", old, number=1)
    world.registry.publish_software(replay, old)
    error = refused(running, "replayed_release")
    assert "older than release 2" in error.message
    still_running(running, "0.3.0")


def test_a_release_for_another_site_is_refused(world: UpdateWorld, running: SoftwareUpdater) -> None:
    data = bundle("0.3.0")
    other = release_for(world, "0.3.0", data, site="plant-b")
    world.registry.publish_software(other, data)  # the registry publishes it under plant-b's path
    assert running.check().status == "current"  # not this site's: nothing to do
    # …and a document for plant-b placed at plant-a's path (custom metadata says plant-a):
    repo = world.registry.repo
    lying = other.model_copy(update={"release": 2})
    repo.put_software(
        {software_release_target(SITE): lying.to_bytes()},
        custom={software_release_target(SITE): {"lineguard_software": {"site": SITE, "release": 2}}},
    )
    error = refused(running, "wrong_target")
    assert "plant-b" in error.message
    still_running(running)


def test_a_bundle_changed_in_transit_is_refused(world: UpdateWorld, running: SoftwareUpdater) -> None:
    publish(world, "0.3.0")
    world.tamper.append((lambda p: p.endswith(".tar.gz"), lambda d: d[:-1] + bytes([d[-1] ^ 1])))
    refused(running, "tampered")
    still_running(running)


def _tar(entries: dict[str, bytes], *, link: str | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link is not None:
            info = tarfile.TarInfo("wheels/evil")
            info.type, info.linkname = tarfile.SYMTYPE, link
            tar.addfile(info)
    return out.getvalue()


@pytest.mark.parametrize(
    ("case", "check"),
    [("escape", "package"), ("symlink", "package"), ("manifest", "tampered"), ("version", "package")],
)
def test_a_signed_bundle_with_bad_contents_is_refused_and_writes_nothing_outside(
    world: UpdateWorld, running: SoftwareUpdater, case: str, check: str
) -> None:
    manifest = {
        "format": "lineguard-node-software",
        "version": "0.3.0",
        "files": {"requirements.txt": "0" * 64},
    }
    entries = {"requirements.txt": b"lineguard==0.3.0\n", "manifest.json": json.dumps(manifest).encode()}
    link = None
    if case == "escape":
        entries["../../outside.txt"] = b"owned"
    elif case == "symlink":
        link = "/etc/passwd"
    elif case == "version":
        manifest["version"] = "9.9.9"
        manifest["files"] = {"requirements.txt": hashlib.sha256(b"lineguard==0.3.0\n").hexdigest()}
        entries["manifest.json"] = json.dumps(manifest).encode()
    data = _tar(entries, link=link)
    world.registry.publish_software(release_for(world, "0.3.0", data), data)
    refused(running, check)
    still_running(running)
    assert not (world.root / "outside.txt").exists() and not (world.root / "edge-sw" / "outside.txt").exists()


def test_the_software_role_needs_its_threshold_of_keys(world: UpdateWorld, running: SoftwareUpdater) -> None:
    """Two software keys, both required (TufPolicy default): with one gone, nothing is signed."""
    (one, _) = sorted(world.registry.repo.keys_dir.glob("software-*.pem"))
    one.unlink()
    with pytest.raises(CryptoError, match="1 key\\(s\\) for TUF role software here, threshold 2"):
        publish(world, "0.3.0")
    assert running.check().status == "current"


def test_a_node_without_a_software_role_finds_nothing(world: UpdateWorld, tmp_path: Path) -> None:
    world.publish()  # a model release only
    assert node(world).check().status == "none"
