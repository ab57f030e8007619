"""Verified model updates on the edge node: TUF metadata, model signatures, atomic hand-over.

::

    client = UpdateClient(data_dir=…, node_id=…, line_id=…, slot=slot,
                          metadata_url=f"{server}/api/v1/registry/tuf/metadata/",
                          targets_url=f"{server}/api/v1/registry/tuf/targets/",
                          fetcher=HttpxFetcher(https_client(data_dir)),
                          initial_root=bootstrap_root(https_client(data_dir)))
    client.check()            # refresh → verify → load → slot.swap; or VerificationError(check=…)
    slot.current().infer(frame)   # what the infer worker does per frame
    slot.model_ref            # what the heartbeat reports (CameraHealth.model)

The node holds public keys and TUF metadata only; nothing on this path can sign.
"""

from lineguard.edge.update.bootstrap import bootstrap_root
from lineguard.edge.update.client import UpdateClient, UpdateOutcome, default_loader
from lineguard.edge.update.fetcher import HttpxFetcher
from lineguard.edge.update.slot import ModelSlot, SwapListener
from lineguard.edge.update.state import InstalledRelease, UpdateState

__all__ = [
    "HttpxFetcher",
    "InstalledRelease",
    "ModelSlot",
    "SwapListener",
    "UpdateClient",
    "UpdateOutcome",
    "UpdateState",
    "bootstrap_root",
    "default_loader",
]
