"""The package's public API is what ``__all__`` says, and it all exists."""

from __future__ import annotations

import lineguard.server.auth as auth


def test_public_api_is_pinned() -> None:
    assert auth.__all__ == sorted(auth.__all__, key=lambda n: (not n.isupper(), n))
    assert set(auth.__all__) == {
        "ACTIONS", "CATEGORIES", "ROLES", "Access", "Action", "Category", "Decision", "Grant",
        "PolicyEngine", "Principal", "ReadScope", "Role", "Subject", "Target", "allow_authenticated",
        "allow_node", "allow_public", "check_approval", "declared_routes", "ensure_four_eyes",
        "readable_scope", "require",
    }  # fmt: skip
    for name in auth.__all__:
        assert getattr(auth, name) is not None
