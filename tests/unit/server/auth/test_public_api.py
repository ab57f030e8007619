"""The package's public API is what ``__all__`` says, and it all exists."""

from __future__ import annotations

import lineguard.server.auth as auth


def test_public_api_is_pinned() -> None:
    assert auth.__all__ == sorted(auth.__all__, key=lambda n: (not n.isupper(), n))
    assert set(auth.__all__) == {
        "ACTIONS", "CATEGORIES", "ROLES", "Access", "Action", "AuthRuntime", "Category", "Decision",
        "Grant", "Matrix", "PolicyEngine", "Principal", "ReadScope", "Role", "RoleGrant", "Subject", "Target",
        "User", "allow_authenticated", "allow_node", "allow_public", "build_matrix", "check_approval",
        "conflicts", "declared_routes", "describe_grant", "document_access_answers", "ensure_four_eyes",
        "looks_shared", "matrix_target", "readable_scope", "require", "revoke_role", "sample_grant",
    }  # fmt: skip
    for name in auth.__all__:
        assert getattr(auth, name) is not None
