"""Errors become HTTP responses here, and only here.

Every response body for an error has the same shape, ``{"code", "message",
"details"}``, where ``code`` is the stable code of the
:class:`~lineguard.contracts.errors.LineGuardError` subclass and ``details`` has one
``path: message`` line per problem. A malformed request is always a 4xx: request
validation failures become 422, unknown routes 404, wrong methods 405. Anything else
is a bug: it is logged with its traceback and answered with a bare 500 that leaks
nothing about the cause. A request whose path or query string holds a control
character (a NUL reached ``open()`` and became a 500) is refused with 400 before any
route sees it (:class:`ControlCharacterGuard`).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from lineguard.contracts.certificates import IssuerUnavailableError
from lineguard.contracts.errors import LineGuardError, RateLimitedError
from lineguard.contracts.validation import format_location

__all__ = ["ControlCharacterGuard", "error_body", "install_error_handlers"]

logger = logging.getLogger(__name__)

_HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "contract_invalid",
    429: "rate_limited",
}


#: 502 and 504 report a failure of an edge node the server relayed for (a rejected
#: upload, no answer in time): their message names the node's fault, not the server's.
_GATEWAY = frozenset({502, 504})
#: 503 says "try again": the client needs the message (no CA issuer reachable) and its Retry-After.
_PASSED_ON = _GATEWAY | {503}


def error_body(code: str, message: str, details: list[str] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": list(details or [])}


def _validation_lines(exc: RequestValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        loc = [p for p in error.get("loc", ()) if isinstance(p, int | str)]
        lines.append(f"{format_location(loc)}: {error.get('msg', 'is invalid')}")
    return lines


async def _lineguard_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LineGuardError)  # noqa: S101 - registered for this type only
    headers: dict[str, str] = {}
    retry_after = getattr(exc, "retry_after_s", None)
    if isinstance(exc, RateLimitedError | IssuerUnavailableError) and isinstance(retry_after, int | float):
        headers["Retry-After"] = str(max(1, round(retry_after + 0.5)))
    if exc.http_status >= 500 and exc.http_status not in _PASSED_ON:
        # Our own errors with a 5xx status (crypto, model) are server faults: log the
        # cause, tell the client only the code.
        logger.error("request failed: %s (%s)", exc.code, exc.message)
        return JSONResponse(error_body(exc.code, "the server could not complete the request"), 500)
    if exc.http_status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(error_body(exc.code, exc.message, exc.details), exc.http_status, headers=headers)


async def _request_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type only
    details = _validation_lines(exc)
    message = "invalid request: " + (details[0] if details else "malformed")
    if len(details) > 1:
        message += f" (and {len(details) - 1} more)"
    return JSONResponse(error_body("contract_invalid", message, details), 422)


async def _http_exception(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type only
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal", "the server could not complete the request"), 500)


_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


class ControlCharacterGuard:
    """Pure ASGI: 400 for a path or query string with a control character (NUL, CR, LF, ESC…).

    No route, file name or database value of ours may hold one; refusing them at the
    door keeps them out of ``open()``, SQL parameters (PostgreSQL rejects NUL) and logs.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
            query = scope.get("query_string", b"")
            if _CONTROL.search(unquote_to_bytes(raw_path)) or _CONTROL.search(unquote_to_bytes(query)):
                body = error_body(
                    "bad_request", "control characters are not allowed in the request path or query"
                )
                await JSONResponse(body, 400)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Register the one mapping from exceptions to responses on ``app``."""
    app.add_middleware(ControlCharacterGuard)
    app.add_exception_handler(LineGuardError, _lineguard_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unexpected)
