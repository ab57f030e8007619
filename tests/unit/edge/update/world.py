"""A plant in miniature for update tests: the registry's TUF repository served over real
HTTP on loopback, a signing key store, and one edge node's updater with its model slot.

``UpdateWorld.publish(...)`` builds a tiny package (a distinct gray level gives a
distinct graph digest), signs it, keeps it in the registry and publishes a release the
way the registry service does. Attacks reach below that API on purpose — a compromised
registry writes targets directly, a network attacker rewrites responses in
:attr:`UpdateWorld.tamper` — and each test then shows the node's refusal and that the
old model keeps running.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from pydantic import SecretStr

from lineguard.contracts.errors import NotFoundError
from lineguard.contracts.ids import new_id
from lineguard.edge.update import HttpxFetcher, ModelSlot, UpdateClient
from lineguard.server.registry.publisher import Registry
from lineguard.server.registry.tuf_repo import TufPolicy
from lineguard.signing import Release, package_targets
from lineguard.signing.sign import SigningKey, sign_package
from lineguard.vision.testing import build_tiny_package

SIGNING_PASSPHRASE = SecretStr("signing passphrase for tests")
TUF_PASSPHRASE = SecretStr("tuf role keys passphrase")
FRAME = np.full((48, 64, 3), 128, dtype=np.uint8)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``/metadata/<name>`` and ``/targets/<path>`` from the registry's repository."""

    def __init__(self, world: UpdateWorld, *args: object) -> None:
        self.world = world
        super().__init__(*args)  # type: ignore[arg-type]

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        repo = self.world.registry.repo
        path = self.path.lstrip("/")
        self.world.requests.append(path)
        try:
            if path.startswith("metadata/"):
                data = repo.metadata_file(path.removeprefix("metadata/")).read_bytes()
            elif path.startswith("targets/"):
                data = repo.target_file(path.removeprefix("targets/")).read_bytes()
            else:
                raise NotFoundError(path)
        except NotFoundError:
            self.send_response(404)
            self.end_headers()
            return
        for matches, rewrite in self.world.tamper:
            if matches(path):
                data = rewrite(data)
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@dataclass
class Published:
    release: Release
    digest: str
    package_dir: Path


@dataclass
class UpdateWorld:
    root: Path
    registry: Registry
    slot: ModelSlot
    base_url: str = ""
    #: (path predicate, rewrite) pairs applied to responses: the network attacker.
    tamper: list[tuple[Callable[[str], bool], Callable[[bytes], bytes]]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    _next_gray: float = 0.30

    def node(
        self, *, node_id: str = "node-1", line_id: str = "line-1", slot: ModelSlot | None = None
    ) -> UpdateClient:
        return UpdateClient(
            data_dir=self.root / f"edge-{node_id}",
            node_id=node_id,
            line_id=line_id,
            metadata_url=f"{self.base_url}/metadata/",
            targets_url=f"{self.base_url}/targets/",
            slot=slot or self.slot,
            fetcher=HttpxFetcher(httpx.Client(timeout=10)),
            initial_root=self.registry.repo.root_bytes(1),
        )

    def signing_key(self) -> SigningKey:
        return self.registry.signers.load_signing_key(SIGNING_PASSPHRASE)

    def package(self, *, key: SigningKey | None = None, sign: bool = True) -> tuple[str, Path, str]:
        """A fresh signed package kept in the registry: (version id, package dir, digest)."""
        self._next_gray += 0.05
        version_id = new_id("mv")
        source = self.root / "build" / version_id
        package = build_tiny_package(source, gray_level=round(self._next_gray, 3))
        if sign:
            sign_package(source, key or self.signing_key())
            self.registry.keep(version_id, source)
        else:
            target = self.registry.package_dir(version_id)
            target.parent.mkdir(parents=True)
            import shutil

            shutil.copytree(source, target)
        return version_id, self.registry.package_dir(version_id), package.digest

    def release(
        self,
        version_id: str,
        digest: str,
        *,
        number: int | None = None,
        lines: tuple[str, ...] = ("line-1",),
        nodes: tuple[str, ...] = (),
    ) -> Release:
        return Release(
            release=number or self.registry.highest_published_release() + 1,
            model_id="tiny-test-model",
            model_version=int(number or self.registry.highest_published_release() + 1),
            model_version_id=version_id,
            sha256=digest,
            lines=lines,
            nodes=nodes,
            files=package_targets(version_id),
        )

    def publish(self, **kwargs: object) -> Published:
        """Sign, keep and publish a new release the way the registry service does."""
        key = kwargs.pop("key", None)
        version_id, package_dir, digest = self.package(key=key)  # type: ignore[arg-type]
        release = self.release(version_id, digest, **kwargs)  # type: ignore[arg-type]
        self.registry.publish_release(release)
        return Published(release, digest, package_dir)


@functools.cache
def _policy() -> TufPolicy:
    return TufPolicy(root_keys=2, root_threshold=2)


def make_world(root: Path) -> Iterator[UpdateWorld]:
    registry = Registry.open(root / "server", TUF_PASSPHRASE, policy=_policy())
    registry.signers.create(SIGNING_PASSPHRASE, label="qa-2026")
    world = UpdateWorld(root=root, registry=registry, slot=ModelSlot())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, world))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    world.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield world
    finally:
        server.shutdown()
        server.server_close()
