"""The dashboard domain: the web pages at the site root and the few API routes only the
dashboard needs (live alert stream, inspection record detail, audited evidence requests).

* :mod:`.site` serves the HTML shells and static files of :mod:`lineguard.web` at ``/``
  (``create_app`` calls :func:`install_site`); they hold no data.
* :mod:`.views` is mounted under ``/api/v1`` like every domain's routes, with the same
  permission checks (``require(action)``) and read auditing.
* :mod:`.truth` scores stored part verdicts against a ground-truth file (a validation
  run, the demo's synthetic line); the demo prints the same score.
* The strict Content-Security-Policy is written in one place, :mod:`lineguard.server.headers`
  (shared with every route that serves evidence or pages).
"""

from lineguard.server.dashboard.live import LiveSettings
from lineguard.server.dashboard.schemas import TruthScore
from lineguard.server.dashboard.site import PAGES, install_site
from lineguard.server.dashboard.truth import GroundTruth, load_ground_truth, score_parts

__all__ = [
    "PAGES",
    "GroundTruth",
    "LiveSettings",
    "TruthScore",
    "install_site",
    "load_ground_truth",
    "score_parts",
]
