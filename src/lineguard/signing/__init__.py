"""Model signing, shared by the plant server, the signing workstation and edge nodes.

The picture, from a trained package to a node that may run it::

    keystore.SigningKeyStore     EC P-256 keys (encrypted PEM or PKCS#11), trust list
        │ sign_package()         OpenSSF model-signing bundle beside the package: PKG.sig
        ▼
    verify.TrustListVerifier     unsigned? unknown/revoked key? bad signature? tampered file?
        │                        → VerifiedPackage, or VerificationError(check=…)
        ▼
    release.Release              "line X runs package P" — published by the registry via TUF

Edge nodes import only :mod:`.verify`, :mod:`.trust`, :mod:`.release` and
:mod:`._errors`: the edge code path never touches a private key
(``tests/unit/signing/test_no_private_keys_on_edge.py``).
"""

from lineguard.signing._errors import CHECKS, Check, VerificationError
from lineguard.signing.release import (
    SIGNERS_TARGET,
    PackageFiles,
    Release,
    line_release_target,
    node_release_target,
    package_targets,
)
from lineguard.signing.report import UpdateReport
from lineguard.signing.software import (
    SoftwareDecision,
    SoftwareRelease,
    build_software_bundle,
    software_bundle_target,
    software_release_target,
)
from lineguard.signing.trust import SignerKey, SignerTrust, key_id_of, load_public_key, public_key_pem
from lineguard.signing.verify import (
    KeyVerifier,
    PackageVerifier,
    TrustListVerifier,
    VerifiedPackage,
    signature_path_for,
)

__all__ = [
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
    "build_software_bundle",
    "key_id_of",
    "line_release_target",
    "load_public_key",
    "node_release_target",
    "package_targets",
    "public_key_pem",
    "signature_path_for",
    "software_bundle_target",
    "software_release_target",
]
