"""Node identity: enrolled nodes, one-time enrollment tokens, issued certificates, mTLS sign-in."""

from lineguard.server.nodes.identity import CurrentNode, presented_certificate
from lineguard.server.nodes.models import Node, NodeCertificate, NodeStatus
from lineguard.server.nodes.service import (
    NodeIdentity,
    active_identity,
    authenticate_certificate,
    issue_token,
    list_nodes,
    nodes_on_other_ca,
    revoke,
    revoke_certificates_of_other_ca,
)

__all__ = [
    "CurrentNode",
    "Node",
    "NodeCertificate",
    "NodeIdentity",
    "NodeStatus",
    "active_identity",
    "authenticate_certificate",
    "issue_token",
    "list_nodes",
    "nodes_on_other_ca",
    "presented_certificate",
    "revoke",
    "revoke_certificates_of_other_ca",
]
