"""The route walk behind deny by default: which rules each route of an app declared.

A rule is whatever object a service's access dependencies carry in an attribute of
their callable: the plant server's :class:`~lineguard.server.auth.dependencies.AccessRule`
under ``__lineguard_access__``, the enterprise roll-up's permission names (strings)
under its own attribute. :func:`walk_routes` reads them off every route, including
those of included routers and rules nested inside other dependencies, so each service's
``declared_routes`` / ``refuse_undeclared_routes`` is this one walk with its rule type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

__all__ = ["DeclaredRoute", "rules_declared", "walk_routes", "without_one_rule"]

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class DeclaredRoute(Generic[R]):
    """One route of an app as a client reaches it (router prefixes applied) and its rules."""

    path: str
    methods: frozenset[str]
    is_api: bool
    rules: tuple[R, ...]


def rules_declared(dependant: Dependant, *, attr: str, rule_type: type[R]) -> list[R]:
    """Every ``rule_type`` found under ``attr`` on the dependencies of ``dependant``, nested ones too."""
    found: list[R] = []
    stack = list(dependant.dependencies)
    while stack:
        dep = stack.pop()
        rule = getattr(dep.call, attr, None)
        if isinstance(rule, rule_type):
            found.append(rule)
        stack.extend(dep.dependencies)
    return found


def walk_routes(app: FastAPI, *, attr: str, rule_type: type[R]) -> list[DeclaredRoute[R]]:
    """Every route of ``app`` with the rules it declared. Non-API routes (the OpenAPI
    schema, static mounts) carry none and say so (``is_api`` false)."""
    found: list[DeclaredRoute[R]] = []
    for context in iter_route_contexts(app.routes):
        is_api = isinstance(context.original_route, APIRoute)
        dependant = getattr(context, "dependant", None) if is_api else None
        rules = tuple(rules_declared(dependant, attr=attr, rule_type=rule_type)) if dependant else ()
        found.append(
            DeclaredRoute(
                path=str(context.path),
                methods=frozenset(context.methods or ()),
                is_api=dependant is not None,
                rules=rules,
            )
        )
    return found


def without_one_rule(routes: list[DeclaredRoute[R]], *, noun: str) -> list[str]:
    """The API routes among ``routes`` that do not declare exactly one rule, described."""
    return [
        f"{sorted(route.methods)} {route.path}: declares {len(route.rules)} {noun}"
        for route in routes
        if route.is_api and len(route.rules) != 1
    ]
