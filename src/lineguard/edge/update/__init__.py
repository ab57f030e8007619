"""Verified model updates on the edge node: TUF metadata, model signatures, atomic hand-over.

::

    slot = ModelSlot(runner)              # the model the camera starts with
    client = connect(data_dir, slot)      # TUF + reports over the node's mTLS channel
    client.check()            # refresh → verify → load → slot.swap; or VerificationError(check=…)
    slot.current().infer(frame)   # what the infer worker does per frame
    slot.model_ref            # what the heartbeat reports (CameraHealth.model)

Node software (the LineGuard wheel and pinned dependencies) comes the same way under
the TUF ``software`` role: :class:`SoftwareUpdater` verifies a bundle, unpacks it into
a versioned slot and switches ``current``, keeping ``previous`` for rollback.

The node holds public keys and TUF metadata only; nothing on this path can sign.
"""

from lineguard.edge.update.client import UpdateClient, UpdateOutcome, default_loader
from lineguard.edge.update.fetcher import HttpxFetcher
from lineguard.edge.update.link import (
    bootstrap_root,
    connect,
    connect_software,
    server_reporter,
    software_reporter,
)
from lineguard.edge.update.slot import ModelSlot, SwapListener
from lineguard.edge.update.software import SoftwareOutcome, SoftwareUpdater
from lineguard.edge.update.software_slots import SoftwareSlots
from lineguard.edge.update.state import InstalledRelease, UpdateState
from lineguard.edge.update.worker import ModelUser, UpdateWorker, start_model_updates

__all__ = [
    "HttpxFetcher",
    "InstalledRelease",
    "ModelSlot",
    "ModelUser",
    "SoftwareOutcome",
    "SoftwareSlots",
    "SoftwareUpdater",
    "SwapListener",
    "UpdateClient",
    "UpdateOutcome",
    "UpdateState",
    "UpdateWorker",
    "bootstrap_root",
    "connect",
    "connect_software",
    "default_loader",
    "server_reporter",
    "software_reporter",
    "start_model_updates",
]
