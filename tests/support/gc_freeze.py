"""Keep what a test worker collected out of the garbage collector's reach (``gc.freeze``).

A pytest-xdist worker collects the whole suite before it runs a test: every test module,
all of LineGuard, hypothesis, schemathesis, Playwright... 575,000 objects the collector
tracks, alive until the session ends (``pytest --collect-only tests``, 2026-12-07). Every
full collection walked them all (321 ms CPU for one, at load 25), holding the GIL: every
thread of the process stopped, the servers tests run in-process (``ServerThread``: the e2e
plant, the API servers) included. With the e2e units on three workers at load ~30, the plant
server stopped for 4.0 and 7.2 s in two such collections, and a sign-in request took 7.0 s;
frozen, the full collections there cost 65 ms CPU on average and stopped it 1.0 s at most
(docs/testing.md, "Slow sign-in steps"). They are not fewer, so the CPU they cost in all is
about the same: what this shortens is each pause.

The product's serving process does the same once it has started (``ServerProcess`` in
``lineguard.server.tls.serve``); this is the test worker's equivalent.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_what_is_alive"]


def freeze_what_is_alive() -> int:
    """Collect once, then freeze every object still alive; how many are frozen now."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
