"""Certificate profiles the plant CA issues, and how a relying party recognises each.

Node certificates carry the node id as common name and the SAN URI
``urn:lineguard:node:<node_id>``. Plant certificates (the enterprise roll-up's CA
signing a plant's CSR) carry O="LineGuard plant", ``urn:lineguard:plant:<plant_id>``
and :data:`PLANT_CERTIFICATE_POLICY`. Replica certificates (one server process to
another on the internal relay) carry O="LineGuard replica",
``urn:lineguard:replica:<replica_id>``, both serverAuth and clientAuth and
:data:`REPLICA_CERTIFICATE_POLICY`. Issuing is :class:`~.ca.PlantCa`'s; recognising a
profile (policy, organisation, exact usages) is here, so the relay refuses a node's
certificate of the same CA and the roll-up refuses a replica's.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "PLANT_CERTIFICATE_POLICY",
    "PLANT_ORGANIZATION",
    "REPLICA_CERTIFICATE_POLICY",
    "REPLICA_ORGANIZATION",
    "is_plant_certificate",
    "is_replica_certificate",
    "node_uri",
    "plant_uri",
    "replica_uri",
]


def node_uri(node_id: str) -> str:
    return f"urn:lineguard:node:{node_id}"


def plant_uri(plant_id: str) -> str:
    return f"urn:lineguard:plant:{plant_id}"


#: The certificate policy of a plant's roll-up certificate (a 2.25 UUID arc: unique
#: without registration). Only :meth:`PlantCa.issue_plant_certificate` puts it in.
PLANT_CERTIFICATE_POLICY = x509.ObjectIdentifier("2.25.314447536795019890971249180351256145052")
PLANT_ORGANIZATION = "LineGuard plant"


def _has_profile(
    cert: x509.Certificate,
    policy: x509.ObjectIdentifier,
    organization: str,
    usages: set[x509.ObjectIdentifier],
) -> bool:
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
        found = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    organizations = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    return (
        any(p.policy_identifier == policy for p in policies)
        and organizations == [organization]
        and len(list(found)) == len(usages)
        and set(found) == usages
    )


def is_plant_certificate(cert: x509.Certificate) -> bool:
    """Whether ``cert`` was issued with the plant profile (policy, organisation, clientAuth)."""
    return _has_profile(cert, PLANT_CERTIFICATE_POLICY, PLANT_ORGANIZATION, {ExtendedKeyUsageOID.CLIENT_AUTH})


#: The certificate policy of a server replica's relay certificate (another 2.25 UUID arc).
REPLICA_CERTIFICATE_POLICY = x509.ObjectIdentifier("2.25.163004933474245623431776306219183618931")
REPLICA_ORGANIZATION = "LineGuard replica"


def replica_uri(replica_id: str) -> str:
    return f"urn:lineguard:replica:{replica_id}"


def is_replica_certificate(cert: x509.Certificate) -> bool:
    """Whether ``cert`` was issued with the replica profile (policy, organisation, both usages)."""
    usages = {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    return _has_profile(cert, REPLICA_CERTIFICATE_POLICY, REPLICA_ORGANIZATION, usages)
