"""Security headers of every answer the server gives (one place; the kernel, shared by every domain).

The Content-Security-Policy allows scripts, styles, fonts, images and connections
from the server's own origin only: no inline script or style, no ``eval``, no third
party (the dashboard must work offline, and a CDN would be a second supplier of code
running with a quality engineer's session). ``blob:`` images are allowed for evidence
images decrypted on view. Framing is refused (clickjacking), the referrer never leaves
the page (URLs carry record ids), and responses that may hold data are not cached.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "SecurityHeaders", "security_headers"]

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

_COMMON = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    # The server speaks HTTPS only (lineguard.server.tls); browsers should never try plain HTTP.
    "Strict-Transport-Security": "max-age=31536000",
}


def security_headers(*, cache: str = "no-store") -> dict[str, str]:
    """Headers for one response; ``cache`` is its ``Cache-Control``.

    Pages and API answers use ``no-store``; static assets ``no-cache`` (revalidated with
    their ETag, so an upgrade of the server is picked up on the next load).
    """
    return {**_COMMON, "Cache-Control": cache}


_DEFAULTS = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in security_headers().items()]


class SecurityHeaders:
    """Pure ASGI: every response of the server carries the headers above.

    Pages and static files set their own (``Cache-Control: no-cache`` for assets); every
    other answer — the JSON API, errors, the OpenAPI description — gets the same set
    with ``no-store``, unless it already names a header itself.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in _DEFAULTS if name not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
