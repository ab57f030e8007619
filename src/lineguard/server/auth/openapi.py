"""The OpenAPI description says which answers an access rule adds to a route.

A route guarded by ``require(action)``, ``allow_authenticated()`` or ``allow_node()`` can
answer 401 (no or expired credential) and 403 (not allowed, or the session owes a step);
:func:`document_access_answers` adds both to each such operation, with the error shape
every error has (``{code, message, details}``), so clients and API fuzzers know them.
Public routes gain nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from lineguard.server.auth.dependencies import access_rules

__all__ = ["document_access_answers"]

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message", "details"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "details": {"type": "array", "items": {"type": "string"}},
    },
}
_ANSWERS = {
    "401": "Not signed in, or the credential is unknown, expired or revoked.",
    "403": "Signed in, but not allowed this action here (or the session still owes a sign-in step).",
}


def document_access_answers(app: FastAPI) -> None:
    """Make ``app.openapi()`` list 401 and 403 on every guarded operation (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema.setdefault("components", {}).setdefault("schemas", {})["ErrorBody"] = _ERROR_SCHEMA
            paths = schema.get("paths", {})
            for context in iter_route_contexts(app.routes):
                path = str(context.path)
                if not isinstance(context.original_route, APIRoute) or path not in paths:
                    continue
                if not any(rule.kind != "public" for rule in access_rules(context.dependant)):
                    continue
                for method in context.methods or ():
                    operation = paths[path].get(method.lower())
                    if operation is None:
                        continue
                    responses = operation.setdefault("responses", {})
                    for status, text in _ANSWERS.items():
                        responses.setdefault(
                            status,
                            {
                                "description": text,
                                "content": {
                                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                                },
                            },
                        )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
