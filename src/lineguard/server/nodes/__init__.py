"""Node identity: enrolled nodes, one-time enrollment tokens, issued certificates, mTLS sign-in."""

from lineguard.server.nodes.models import Node, NodeCertificate, NodeStatus

__all__ = ["Node", "NodeCertificate", "NodeStatus"]
