"""The dashboard domain: the web pages at the site root and the few API routes only the
dashboard needs (live alert stream, inspection record detail, audited evidence requests).

* :mod:`.site` serves the HTML shells and static files of :mod:`lineguard.web` at ``/``
  (``create_app`` calls :func:`install_site`); they hold no data.
* :mod:`.views` is mounted under ``/api/v1`` like every domain's routes, with the same
  permission checks (``require(action)``) and read auditing.
* :mod:`.headers` is the one place the strict Content-Security-Policy is written.
"""

from lineguard.server.dashboard.headers import CONTENT_SECURITY_POLICY, SecurityHeaders, security_headers
from lineguard.server.dashboard.live import LiveSettings
from lineguard.server.dashboard.site import PAGES, install_site

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "PAGES",
    "LiveSettings",
    "SecurityHeaders",
    "install_site",
    "security_headers",
]
