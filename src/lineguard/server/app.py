"""``create_app(settings)``: the plant server as one FastAPI application.

The app is assembled from its domains, each a folder under ``lineguard.server``:

* ``<domain>/models.py`` tables on the shared ``storage.Base`` (migrated at start-up),
* ``<domain>/views.py`` exporting ``router``, mounted under ``/api/v1``,
* ``<domain>/scheduled.py`` exporting ``lifespan(app)``, an async context manager run
  for the app's lifetime (the retention sweeper starts here).

Every route must declare its access rule (``require``, ``allow_authenticated``,
``allow_public`` or ``allow_node``): ``create_app`` raises ``ConfigError`` naming any
route that does not, and so does start-up for routes mounted afterwards.

Start-up runs, in order: migrations (``upgrade head``), each domain's lifespan, then
any ``lifespan_hooks`` given by the caller; shutdown runs them in reverse. Errors
become responses in :mod:`lineguard.server.errors` only.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig
from sqlalchemy import Engine

from lineguard import __version__
from lineguard.config.server import ServerConfig
from lineguard.server import logsafe
from lineguard.server.assistant import AssistantState
from lineguard.server.audit import Checkpoints
from lineguard.server.auth import AuthRuntime, document_access_answers, refuse_undeclared_routes
from lineguard.server.context import API_PREFIX, AuditHook, Sealer, ServerContext
from lineguard.server.dashboard import LiveSettings, install_site
from lineguard.server.egress import build_gate
from lineguard.server.errors import install_error_handlers
from lineguard.server.evidence_views import EvidenceViewsState
from lineguard.server.headers import SecurityHeaders
from lineguard.server.ingest import IngestState
from lineguard.server.integrations import IntegrationsState
from lineguard.server.nodes import RenewalHint
from lineguard.server.once import Once
from lineguard.server.pki import LiveCa, PlantCa, is_issuer
from lineguard.server.protection import default_audit, default_sealer
from lineguard.server.registry import Registry
from lineguard.server.storage import Leadership, open_engine, session_factory, upgrade_to_head

__all__ = ["API_PREFIX", "TELEMETRY_OFF", "LifespanHook", "create_app", "domain_modules"]

#: FastAPI's native OpenTelemetry off, OTLP export from environment variables included
#: (FASTAPI_OTEL_AUTO_CONFIGURE would otherwise add exporters): docs/security.md.
TELEMETRY_OFF: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}

#: An async context manager factory that runs for the app's lifetime.
LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


def domain_modules(leaf: str) -> list[Any]:
    """``lineguard.server.<domain>.<leaf>`` for every domain that has one, by name."""
    import lineguard.server as server_pkg

    found = []
    for info in sorted(pkgutil.iter_modules(server_pkg.__path__), key=lambda i: i.name):
        name = f"{server_pkg.__name__}.{info.name}.{leaf}"
        if info.ispkg and importlib.util.find_spec(name) is not None:
            found.append(importlib.import_module(name))
    return found


#: Domains whose routes are tried first. FastAPI matches a request against the
#: included routers in order, twice (to find the route, then to run it), each try a
#: regex and scope bookkeeping: node ingest, nearly every request a plant server gets,
#: came ninth of nineteen domains by name. Its paths are literal (no parameters), so
#: trying them first changes which route answers no other request.
HOT_DOMAINS = ("ingest",)


def _routers() -> list[APIRouter]:
    modules = domain_modules("views")
    hot = [m for m in modules if m.__name__.split(".")[-2] in HOT_DOMAINS]
    routers = []
    for module in [*hot, *(m for m in modules if m not in hot)]:
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            routers.append(router)
    return routers


def create_app(
    settings: ServerConfig,
    *,
    engine: Engine | None = None,
    sealer: Sealer | None = None,
    audit: AuditHook | None = None,
    ca: PlantCa | None = None,
    registry: Registry | None = None,
    lifespan_hooks: Sequence[LifespanHook] = (),
    pki_issuer: bool | None = None,
) -> FastAPI:
    """Build the server app for ``settings``.

    ``engine``, ``sealer`` and ``audit`` default to what the settings describe (the
    database under ``data_dir`` or ``database.url``; the keyring's envelope
    encryption; the hash-chained audit log). Tests and benchmarks pass their own.
    ``ca`` and ``registry`` are an already opened plant CA and model registry; without
    them each is opened from the settings on first use. ``pki_issuer`` is this host's CA
    role (``server/pki/role.py``; None: from ``LINEGUARD_PKI_ISSUER``): a non-issuer
    reads the CA certificates only, never the key. Every domain's state is built here,
    once (:class:`~lineguard.server.context.ServerContext`).
    """
    issuer = is_issuer() if pki_issuer is None else pki_issuer
    if engine is None:
        engine = open_engine(settings)
    sessions = session_factory(engine)
    audit_hook = audit if audit is not None else default_audit(settings)
    sealer = sealer if sealer is not None else default_sealer(settings, sessions)
    gate = build_gate(settings, sessions=sessions, audit=audit_hook)
    context = ServerContext(
        settings=settings,
        engine=engine,
        sessions=sessions,
        sealer=sealer,
        audit=audit_hook,
        egress=gate,
        integrations=IntegrationsState.build(
            settings, sessions=sessions, sealer=sealer, audit=audit_hook, gate=gate
        ),
        auth=AuthRuntime.build(settings.site_id, settings.auth),
        ca=LiveCa(
            settings.data_dir,
            (
                (lambda: PlantCa.load(settings.data_dir, settings.pki.ca_passphrase.resolve()))
                if issuer
                else (lambda: PlantCa.load_public(settings.data_dir))
            ),
            ca,
            issuer=issuer,
        ),
        registry=Once(lambda: Registry.from_settings(settings), registry),
        ingest=IngestState.build(settings, engine),
        evidence_views=EvidenceViewsState.build(settings),
        checkpoints=Checkpoints(),
        live=LiveSettings(),
        leadership=Leadership(engine, settings.data_dir),
        assistant=AssistantState.build(settings, gate=gate),
    )
    domain_lifespans: list[LifespanHook] = [
        m.lifespan for m in domain_modules("scheduled") if callable(getattr(m, "lifespan", None))
    ]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        refuse_undeclared_routes(app)  # also those mounted after create_app returned
        upgrade_to_head(context.engine)
        async with AsyncExitStack() as stack:
            stack.callback(context.leadership.release)  # after every duty has stopped
            for hook in [*domain_lifespans, *lifespan_hooks]:
                await stack.enter_async_context(hook(app))
            yield

    app = FastAPI(
        title="LineGuard plant server",
        version=__version__,
        description="Ingest from enrolled edge nodes, dashboard queries, administration.",
        lifespan=lifespan,
        # No Swagger UI page: FastAPI's loads its script from a CDN (floating version, no
        # integrity hash) into the dashboard's origin. The OpenAPI JSON stays, public: it
        # is the API's contract, holds no data, and every route it lists denies by default.
        docs_url=None,
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json",
        telemetry=TELEMETRY_OFF,
    )
    app.state.lineguard = context
    logsafe.install()  # every log line escapes control characters (clients' text is logged)
    install_error_handlers(app)
    for router in _routers():
        app.include_router(router, prefix=API_PREFIX)
    # The dashboard's pages and static files live at the site root, not under /api/v1.
    install_site(app)
    refuse_undeclared_routes(app)  # deny by default: an undeclared route never starts
    document_access_answers(app)  # 401/403 on every guarded operation of the OpenAPI description
    app.add_middleware(SecurityHeaders)  # nosniff, HSTS, no-store, CSP on every answer
    # A node on the previous plant CA is told to renew now, on any route (nodes/hint.py).
    app.add_middleware(RenewalHint, ca=context.ca)
    return app
