"""Node identity: enrolled nodes, one-time enrollment tokens, issued certificates, mTLS sign-in."""

from lineguard.server.nodes.forward import SIGNING_OPS, answer_signing_request
from lineguard.server.nodes.hint import RenewalHint
from lineguard.server.nodes.identity import CurrentNode, presented_certificate
from lineguard.server.nodes.models import Node, NodeCertificate, NodeStatus
from lineguard.server.nodes.service import (
    NodeIdentity,
    active_identity,
    admit_certificate,
    authenticate_certificate,
    issue_token,
    list_nodes,
    nodes_on_other_ca,
    pending_enrollment_tokens,
    revoke,
    revoke_certificates_of_other_ca,
)

__all__ = [
    "SIGNING_OPS",
    "CurrentNode",
    "Node",
    "NodeCertificate",
    "NodeIdentity",
    "NodeStatus",
    "RenewalHint",
    "active_identity",
    "admit_certificate",
    "answer_signing_request",
    "authenticate_certificate",
    "issue_token",
    "list_nodes",
    "nodes_on_other_ca",
    "pending_enrollment_tokens",
    "presented_certificate",
    "revoke",
    "revoke_certificates_of_other_ca",
]
