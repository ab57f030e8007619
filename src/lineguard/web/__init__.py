"""The dashboard's browser side: HTML page shells and static assets, nothing else.

Pages are static HTML that load one small JavaScript module each; every figure on them
comes from the JSON API under ``/api/v1`` (no server-side rendering of data). Scripts,
styles and the vendored chart library are served from here, so the dashboard works in a
plant without internet access. ``lineguard.server.dashboard`` serves these files.
"""

from lineguard.web.paths import STATIC_DIR, TEMPLATES_DIR, WEB_DIR

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "WEB_DIR"]
