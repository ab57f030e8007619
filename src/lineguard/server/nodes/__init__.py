"""Node identity: enrolled nodes, one-time enrollment tokens, issued certificates, mTLS sign-in."""

from lineguard.server.nodes.identity import CurrentNode, presented_certificate
from lineguard.server.nodes.models import Node, NodeCertificate, NodeStatus
from lineguard.server.nodes.service import (
    NodeIdentity,
    authenticate_certificate,
    issue_token,
    list_nodes,
    revoke,
)

__all__ = [
    "CurrentNode",
    "Node",
    "NodeCertificate",
    "NodeIdentity",
    "NodeStatus",
    "authenticate_certificate",
    "issue_token",
    "list_nodes",
    "presented_certificate",
    "revoke",
]
