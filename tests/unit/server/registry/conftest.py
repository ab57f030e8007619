"""Registry tests: the real app on SQLite and PostgreSQL (the access-control harness),
with a registry whose signing store holds one key, and helpers to upload packages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from lineguard.server.auth.catalog import Role
from lineguard.server.auth.dependencies import CSRF_HEADER
from lineguard.server.once import Once
from lineguard.server.registry import Registry
from lineguard.server.registry.tuf_repo import TufPolicy
from lineguard.signing import signature_path_for
from lineguard.signing.sign import SigningKey, sign_package
from lineguard.vision.testing import build_tiny_package
from tests.unit.server.auth.harness import AuthHarness, Person, running_harness

SIGNING = SecretStr("registry test signing passphrase")


@dataclass
class RegistryWorld:
    harness: AuthHarness
    registry: Registry
    root: Path
    alice: Person  # quality engineer: registers and deploys
    bob: Person  # production supervisor: approves
    _gray: float = 0.3

    def key(self) -> SigningKey:
        return self.registry.signers.load_signing_key(SIGNING)

    def package(self, *, key: SigningKey | None = None, sign: bool = True) -> Path:
        self._gray = round(self._gray + 0.05, 3)
        path = build_tiny_package(self.root / "uploads" / f"pkg-{self._gray}", gray_level=self._gray).path
        if sign:
            sign_package(path, key or self.key())
        return path

    def as_person(self, person: Person) -> dict[str, str]:
        return {CSRF_HEADER: self.harness.sign_in(person)}

    def upload(self, package: Path, headers: dict[str, str]) -> Any:
        sig = signature_path_for(package)
        files = {
            "model": ("model.onnx", (package / "model.onnx").read_bytes()),
            "metadata": ("metadata.json", (package / "metadata.json").read_bytes()),
            "signature": ("package.sig", sig.read_bytes() if sig.exists() else b""),
        }
        return self.harness.client.post("/api/v1/registry/models", files=files, headers=headers)

    def registered_and_approved(self) -> str:
        registered = self.upload(self.package(), self.as_person(self.alice))
        assert registered.status_code == 201, registered.text
        version_id = str(registered.json()["id"])
        approved = self.harness.client.post(
            f"/api/v1/registry/models/{version_id}/approve", headers=self.as_person(self.bob)
        )
        assert approved.status_code == 200, approved.text
        return version_id


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[RegistryWorld]:
    with running_harness(db_url, tmp_path / "server") as harness:
        # Its own home: the app's lifespan (already running) never finds it under data_dir.
        policy = TufPolicy(root_keys=1, root_threshold=1)
        registry = Registry.open(tmp_path / "registry-home", SecretStr("tuf keys"), policy=policy)
        registry.signers.create(SIGNING, label="qa")
        harness.context.registry = Once.of(registry)
        alice = harness.add_person("alice.q", [Role.QUALITY_ENGINEER])
        bob = harness.add_person("bob.s", [Role.PRODUCTION_SUPERVISOR])
        yield RegistryWorld(harness, registry, tmp_path, alice, bob)
