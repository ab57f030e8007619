"""The plant's own certificate authority and the one-time enrollment tokens.

``PlantCa`` creates and loads the CA (key encrypted at rest under a passphrase from a
SecretRef), issues the server's TLS certificate and short-lived node client
certificates from CSRs. ``EnrollmentTokenText`` is the token an administrator hands to
a node: it embeds the sha256 of the CA certificate, so the node pins the server on
first contact (like kubeadm's discovery hash). ``rotation`` replaces the CA: a new one
beside the old for an overlap, then the old one retired (``lineguard ca rotate`` /
``retire``); ``LiveCa`` is how a running process follows those changes without a
restart (``files`` holds the paths and the cheap change check); ``server_cert`` keeps the
server's own TLS certificate current in the running processes (once for all replicas);
``role`` says whether this host may sign at all (``LINEGUARD_PKI_ISSUER``).
"""

from __future__ import annotations

from lineguard.server.pki.bundle import broker_ca_bundle, write_broker_cafile
from lineguard.server.pki.ca import (
    IssuedCertificate,
    PlantCa,
    ReplicaCredentials,
    checked_csr_key,
    signing_process,
)
from lineguard.server.pki.files import (
    CaPaths,
    ca_files_signature,
    ca_paths,
    certificate_fingerprint,
    read_certificate,
)
from lineguard.server.pki.live import LiveCa
from lineguard.server.pki.profiles import (
    PLANT_CERTIFICATE_POLICY,
    REPLICA_CERTIFICATE_POLICY,
    is_plant_certificate,
    is_replica_certificate,
)
from lineguard.server.pki.role import ISSUER_ENV, ISSUER_LEADERSHIP, check_passphrase_absent, is_issuer
from lineguard.server.pki.rotation import (
    CaRotation,
    retire_previous_ca,
    rotation_started_at,
    start_ca_rotation,
    write_trust_bundle,
)
from lineguard.server.pki.server_cert import (
    ISSUE_LOCK,
    RENEW_BEFORE,
    DatabaseLock,
    ServerCertificateKeeper,
    database_issue_lock,
    renew_server_certificate,
    server_certificate_due,
)
from lineguard.server.pki.tokens import TOKEN_PREFIX, EnrollmentTokenText, hash_secret, secrets_match

__all__ = [
    "ISSUER_ENV",
    "ISSUER_LEADERSHIP",
    "ISSUE_LOCK",
    "PLANT_CERTIFICATE_POLICY",
    "RENEW_BEFORE",
    "REPLICA_CERTIFICATE_POLICY",
    "TOKEN_PREFIX",
    "CaPaths",
    "CaRotation",
    "DatabaseLock",
    "EnrollmentTokenText",
    "IssuedCertificate",
    "LiveCa",
    "PlantCa",
    "ReplicaCredentials",
    "ServerCertificateKeeper",
    "broker_ca_bundle",
    "ca_files_signature",
    "ca_paths",
    "certificate_fingerprint",
    "check_passphrase_absent",
    "checked_csr_key",
    "database_issue_lock",
    "hash_secret",
    "is_issuer",
    "is_plant_certificate",
    "is_replica_certificate",
    "read_certificate",
    "renew_server_certificate",
    "retire_previous_ca",
    "rotation_started_at",
    "secrets_match",
    "server_certificate_due",
    "signing_process",
    "start_ca_rotation",
    "write_broker_cafile",
    "write_trust_bundle",
]
