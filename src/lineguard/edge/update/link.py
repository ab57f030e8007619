"""The updater's link to the plant server: the mTLS channel the node already has.

:func:`connect` wires an :class:`~lineguard.edge.update.client.UpdateClient` for an
enrolled node — TUF files and reports travel over ``https_client`` (plant CA pinned,
node certificate presented), node and line come from the enrollment record::

    slot = ModelSlot(OnnxModelRunner(config.cameras[0].model))   # the configured package
    updater = connect(data_dir, slot)
    updater.check()                                               # e.g. once a minute

The first TUF root (:func:`bootstrap_root`) is fetched once over that CA-pinned
channel: the node reached the server through a TLS session authenticated by the plant
CA whose sha256 the one-time enrollment token pinned. After it, only roots signed by
the previous root's threshold are accepted (TUF's root chain), so a later compromise
of the channel cannot replace it. An operator who wants no trust-on-first-use copies
``1.root.json`` to the node out of band and passes it as ``initial_root``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from lineguard.edge.identity import IdentityStore, NodeIdentityInfo, https_client
from lineguard.edge.update.client import Reporter, RunnerLoader, UpdateClient, default_loader
from lineguard.edge.update.fetcher import HttpxFetcher
from lineguard.edge.update.slot import ModelSlot
from lineguard.edge.update.software import SoftwareUpdater
from lineguard.edge.update.software_slots import SoftwareSlots
from lineguard.edge.update.state import UpdateState
from lineguard.signing import SoftwareDecision, UpdateReport, VerificationError

__all__ = [
    "API_BASE",
    "REPORTS_PATH",
    "ROOT_V1_PATH",
    "SOFTWARE_REPORTS_PATH",
    "bootstrap_root",
    "connect",
    "connect_software",
    "server_reporter",
    "software_reporter",
]

log = logging.getLogger(__name__)

API_BASE = "/api/v1/registry"
ROOT_V1_PATH = f"{API_BASE}/tuf/metadata/1.root.json"
REPORTS_PATH = f"{API_BASE}/reports"
SOFTWARE_REPORTS_PATH = f"{API_BASE}/software-reports"
_MAX_ROOT_BYTES = 512 * 1024


def bootstrap_root(client: httpx.Client) -> bytes:
    """Version 1 of the registry's root metadata, from the server ``client`` talks to."""
    try:
        response = client.get(ROOT_V1_PATH)
    except httpx.HTTPError as exc:
        msg = f"cannot fetch the registry's initial TUF root: {type(exc).__name__}: {exc}"
        raise VerificationError(msg, check="download") from None
    if response.status_code != 200:
        msg = f"the registry answered HTTP {response.status_code} for its initial TUF root"
        raise VerificationError(msg, check="download")
    if len(response.content) > _MAX_ROOT_BYTES:
        msg = f"the initial TUF root is {len(response.content):,} bytes, more than a root can be"
        raise VerificationError(msg, check="metadata")
    return response.content


def server_reporter(client: httpx.Client) -> Reporter:
    """Send each update decision to the server, which records it in the audit log."""

    def report(decision: UpdateReport) -> None:
        response = client.post(
            REPORTS_PATH, content=decision.model_dump_json(), headers={"content-type": "application/json"}
        )
        if response.status_code >= 300:
            log.warning(
                "server refused the update report: HTTP %d %s", response.status_code, response.text[:200]
            )

    return report


def software_reporter(client: httpx.Client) -> Callable[[SoftwareDecision], None]:
    """Send each node-software step to the server, which records it in the audit log."""

    def report(decision: SoftwareDecision) -> None:
        response = client.post(
            SOFTWARE_REPORTS_PATH,
            content=decision.model_dump_json(),
            headers={"content-type": "application/json"},
        )
        if response.status_code >= 300:
            log.warning(
                "server refused the software report: HTTP %d %s", response.status_code, response.text[:200]
            )

    return report


@dataclass(frozen=True)
class _Channel:
    """The enrolled node's mTLS channel to its registry: who it is, and the TUF URLs."""

    info: NodeIdentityInfo
    client: httpx.Client
    metadata_url: str
    targets_url: str


def _channel(data_dir: Path, server_url: str | None) -> _Channel:
    info = IdentityStore(data_dir).info()
    base = (server_url or info.server_url).rstrip("/")
    return _Channel(
        info=info,
        client=https_client(data_dir, base),
        metadata_url=f"{base}{API_BASE}/tuf/metadata/",
        targets_url=f"{base}{API_BASE}/tuf/targets/",
    )


def connect(
    data_dir: Path,
    slot: ModelSlot,
    *,
    server_url: str | None = None,
    initial_root: bytes | None = None,
    loader: RunnerLoader = default_loader,
) -> UpdateClient:
    """An updater for the enrolled node in ``data_dir``, talking to its server over mTLS."""
    channel = _channel(data_dir, server_url)
    if initial_root is None and not UpdateState(data_dir).has_trusted_root:
        initial_root = bootstrap_root(channel.client)
    return UpdateClient(
        data_dir=data_dir,
        node_id=channel.info.node_id,
        line_id=channel.info.line_id,
        metadata_url=channel.metadata_url,
        targets_url=channel.targets_url,
        slot=slot,
        fetcher=HttpxFetcher(channel.client),
        initial_root=initial_root,
        loader=loader,
        reporter=server_reporter(channel.client),
    )


def connect_software(
    data_dir: Path, *, server_url: str | None = None, initial_root: bytes | None = None
) -> SoftwareUpdater:
    """The node-software updater of the enrolled node in ``data_dir``, over its mTLS channel.

    Its first TUF root, in order: its own trusted root; else the root the model updater
    already trusts (the same repository, reached by TUF's root chain); else version 1
    fetched over the CA-pinned channel, as :func:`connect` does.
    """
    channel = _channel(data_dir, server_url)
    if initial_root is None and not (SoftwareSlots(data_dir).metadata_dir / "root.json").exists():
        model_root = UpdateState(data_dir).metadata_dir / "root.json"
        initial_root = model_root.read_bytes() if model_root.exists() else bootstrap_root(channel.client)
    return SoftwareUpdater(
        data_dir=data_dir,
        site_id=channel.info.site_id,
        metadata_url=channel.metadata_url,
        targets_url=channel.targets_url,
        fetcher=HttpxFetcher(channel.client),
        initial_root=initial_root,
        reporter=software_reporter(channel.client),
    )
