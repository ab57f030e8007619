"""``/api/v1/auth``: sign-in, MFA, sessions, CSRF, own API tokens, user administration.

Thin: each handler picks its access rule, calls the service, and shapes the answer. The
browser session lives only in the ``__Host-`` cookie; responses carry the CSRF token the
page must send back on unsafe requests. The routes live in three modules by audience:
``views_signin`` (everyone, about their own session), ``views_tokens`` (everyone, their
own API tokens) and ``views_admin`` (holders of ``users_and_roles`` permissions).
"""

from __future__ import annotations

from fastapi import APIRouter

from lineguard.server.auth import views_admin, views_signin, views_tokens

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"])
router.include_router(views_signin.router)
router.include_router(views_tokens.router)
router.include_router(views_admin.router)
