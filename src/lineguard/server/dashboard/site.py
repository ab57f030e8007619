"""The dashboard's pages and static files, served at the site root.

Each page is a static HTML shell: ``templates/layout.html`` (head, menu bar, status line)
around the page's own fragment from ``templates/pages/``, put together once per process
from constants — never from data. The shell loads the page's JavaScript module, which
asks ``/api/v1/auth/me`` what the signed-in person may do and fetches every figure from
the JSON API, where permissions are enforced. Pages and assets therefore hold no data and
are public (each route says so with ``allow_public``), which lets the sign-in page load
before anyone is signed in. The sign-in page is a document of its own (no menu).

Static files are looked up only under ``lineguard.web/static``, with an allow-list of
file types; anything that would resolve outside that folder is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI
from fastapi.params import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse, Response

from lineguard.contracts.errors import NotFoundError
from lineguard.server.auth import allow_public
from lineguard.server.headers import security_headers
from lineguard.web.paths import STATIC_DIR, TEMPLATES_DIR

__all__ = ["PAGES", "Page", "install_site", "render_page", "router", "static_file"]


@dataclass(frozen=True, slots=True)
class Page:
    """One page: its path, title, and ``static/js/pages/<name>.js`` + ``templates/pages/<name>.html``."""

    path: str
    name: str
    title: str
    #: Whether the page draws charts (loads the vendored Chart.js first).
    charts: bool = False
    #: A complete document in ``templates/`` instead of a fragment in the layout.
    standalone: bool = False


#: Every page of the dashboard. What each shows, and to whom, is in docs/dashboard.md.
PAGES: tuple[Page, ...] = (
    Page("/", "home", "LineGuard"),
    Page("/signin", "signin", "Sign in", standalone=True),
    Page("/overview", "overview", "Overview", charts=True),
    Page("/defects", "defects", "Defect analysis", charts=True),
    Page("/spc", "spc", "Process control", charts=True),
    Page("/labels", "labels", "Label checks"),
    Page("/thermal", "thermal", "Thermal monitoring", charts=True),
    Page("/ppe", "ppe", "PPE compliance"),
    Page("/alerts", "alerts", "Live alerts"),
    Page("/record", "record", "Inspection record"),
    Page("/nodes", "nodes", "Node health"),
    Page("/models", "models", "Model registry"),
    Page("/audit", "audit", "Audit log"),
    Page("/users", "users", "Users and roles"),
    Page("/retention", "retention", "Retention"),
    Page("/integrations", "integrations", "Integrations"),
    Page("/governance", "governance", "Governance"),
    Page("/ask", "ask", "Ask"),
)

_CHARTS = '<script src="/static/vendor/chartjs/chart.umd.min.js" defer></script>\n'


@cache
def render_page(page: Page) -> bytes:
    """The page's HTML: the layout around its fragment (constants only, built once)."""
    if page.standalone:
        return (TEMPLATES_DIR / f"{page.name}.html").read_bytes()
    scripts = (
        _CHARTS if page.charts else ""
    ) + f'<script type="module" src="/static/js/pages/{page.name}.js"></script>'
    layout = (TEMPLATES_DIR / "layout.html").read_text(encoding="utf-8")
    content = (TEMPLATES_DIR / "pages" / f"{page.name}.html").read_text(encoding="utf-8")
    html = layout.replace("{{title}}", page.title).replace("{{scripts}}", scripts)
    return html.replace("{{content}}", content).encode("utf-8")


_CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}

_PUBLIC = Depends(allow_public("page shells and static assets hold no data; the API checks permissions"))
router = APIRouter(include_in_schema=False, dependencies=[_PUBLIC])


def _page_route(page: Page) -> None:
    def serve_page() -> Response:
        return Response(render_page(page), media_type="text/html; charset=utf-8", headers=security_headers())

    serve_page.__name__ = f"page_{page.name}"
    router.add_api_route(page.path, serve_page, methods=["GET"], summary=page.title)


for _page in PAGES:
    _page_route(_page)


def static_file(relative: str) -> Path:
    """The file under ``STATIC_DIR`` that ``relative`` names; NotFoundError for anything else."""
    root = STATIC_DIR.resolve()
    candidate = (root / relative).resolve()
    if (
        not relative
        or "\\" in relative
        or not candidate.is_relative_to(root)
        or candidate.suffix not in _CONTENT_TYPES
        or not candidate.is_file()
    ):
        msg = f"no static file {relative[:200]!r}"
        raise NotFoundError(msg)
    return candidate


@router.get("/static/{relative:path}", summary="Dashboard scripts, styles and images")
def get_static(relative: Annotated[str, PathParam(max_length=300)]) -> Response:
    path = static_file(relative)
    return FileResponse(
        path, media_type=_CONTENT_TYPES[path.suffix], headers=security_headers(cache="no-cache")
    )


@router.get("/favicon.ico", summary="Browsers ask for it; point them at the SVG icon")
def get_favicon() -> Response:
    return RedirectResponse("/static/img/favicon.svg", status_code=308, headers=security_headers())


def install_site(app: FastAPI) -> None:
    """Serve the dashboard pages and static files at the root of ``app``."""
    app.include_router(router)
