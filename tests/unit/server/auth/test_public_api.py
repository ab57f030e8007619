"""The package's public API is what ``__all__`` says, and it all exists."""

from __future__ import annotations

import lineguard.server.auth as auth


def test_public_api_is_pinned() -> None:
    assert auth.__all__ == sorted(auth.__all__, key=lambda n: (not n.isupper(), n))
    assert set(auth.__all__) == {
        "ACTIONS", "CATEGORIES", "ROLES", "Access", "Action", "AddressRateLimiter", "AuthRuntime",
        "Category", "Decision", "DeclaredRoute", "Grant", "Matrix", "PolicyEngine", "Principal", "ReadScope",
        "Role", "RoleGrant", "Subject", "Target", "TooManyAttemptsError", "User", "account_key",
        "active_grants", "allow_authenticated", "allow_node", "allow_public", "build_matrix",
        "change_password",
        "check_approval", "confirm_person", "conflicts", "create_user", "current_principal",
        "declared_routes", "describe", "describe_grant", "disable_user", "document_access_answers",
        "enroll_without_browser", "ensure_four_eyes", "grant_role", "grant_rows", "locked_until",
        "looks_shared", "matrix_target", "readable_scope", "refuse_undeclared_routes", "require",
        "reset_mfa", "reset_password", "revoke_role", "sample_grant", "undeclared_routes", "unlock_account",
        "user_by_name", "walk_routes", "without_one_rule",
    }  # fmt: skip
    for name in auth.__all__:
        assert getattr(auth, name) is not None
