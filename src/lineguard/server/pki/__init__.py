"""The plant's own certificate authority and the one-time enrollment tokens.

``PlantCa`` creates and loads the CA (key encrypted at rest under a passphrase from a
SecretRef), issues the server's TLS certificate and short-lived node client
certificates from CSRs. ``EnrollmentTokenText`` is the token an administrator hands to
a node: it embeds the sha256 of the CA certificate, so the node pins the server on
first contact (like kubeadm's discovery hash). ``rotation`` replaces the CA: a new one
beside the old for an overlap, then the old one retired (``lineguard ca rotate`` /
``retire``).
"""

from __future__ import annotations

from lineguard.server.pki.ca import (
    CaPaths,
    IssuedCertificate,
    PlantCa,
    ReplicaCredentials,
    ca_paths,
    certificate_fingerprint,
)
from lineguard.server.pki.profiles import (
    PLANT_CERTIFICATE_POLICY,
    REPLICA_CERTIFICATE_POLICY,
    is_plant_certificate,
    is_replica_certificate,
)
from lineguard.server.pki.rotation import (
    CaRotation,
    retire_previous_ca,
    start_ca_rotation,
    write_trust_bundle,
)
from lineguard.server.pki.tokens import TOKEN_PREFIX, EnrollmentTokenText, hash_secret, secrets_match

__all__ = [
    "PLANT_CERTIFICATE_POLICY",
    "REPLICA_CERTIFICATE_POLICY",
    "TOKEN_PREFIX",
    "CaPaths",
    "CaRotation",
    "EnrollmentTokenText",
    "IssuedCertificate",
    "PlantCa",
    "ReplicaCredentials",
    "ca_paths",
    "certificate_fingerprint",
    "hash_secret",
    "is_plant_certificate",
    "is_replica_certificate",
    "retire_previous_ca",
    "secrets_match",
    "start_ca_rotation",
    "write_trust_bundle",
]
