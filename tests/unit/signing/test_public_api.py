"""What the signing package and the node's updater export is pinned: a change here is deliberate."""

from __future__ import annotations

import lineguard.edge.update as update
import lineguard.signing as signing


def test_signing_exports() -> None:
    assert sorted(signing.__all__) == sorted(
        [
            "CHECKS",
            "SIGNERS_TARGET",
            "Check",
            "KeyVerifier",
            "PackageFiles",
            "PackageVerifier",
            "Release",
            "SignerKey",
            "SignerTrust",
            "SoftwareDecision",
            "SoftwareRelease",
            "TrustListVerifier",
            "UpdateReport",
            "VerificationError",
            "VerifiedPackage",
            "key_id_of",
            "line_release_target",
            "load_public_key",
            "node_release_target",
            "package_targets",
            "public_key_pem",
            "signature_path_for",
            "build_software_bundle",
            "software_bundle_target",
            "software_release_target",
        ]
    )
    for name in signing.__all__:
        assert hasattr(signing, name)


def test_edge_update_exports() -> None:
    assert sorted(update.__all__) == sorted(
        [
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
    )
    for name in update.__all__:
        assert hasattr(update, name)
