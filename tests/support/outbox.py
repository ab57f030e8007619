"""What a node's outbox does with a batch, for tests that break the server under it.

The outbox keeps a batch until a 200 acknowledges it and resends the same bytes (same
idempotency keys) after any failure; a 4xx would be a refusal of the batch itself, which
these tests never expect.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

__all__ = ["post_until_acknowledged"]

BATCH = "/api/v1/ingest/batch"


def post_until_acknowledged(client: httpx.Client, body: dict[str, Any], *, timeout_s: float = 90) -> int:
    """Resend ``body`` until a 200; how many tries it took (1: no failure seen)."""
    deadline = time.monotonic() + timeout_s
    tries = 0
    while True:
        tries += 1
        try:
            response: httpx.Response | None = client.post(BATCH, json=body)
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code == 200:
            return tries
        assert response is None or response.status_code >= 500, response.text  # never refused as bad input
        assert time.monotonic() < deadline, "the server did not take the batch in time"
        time.sleep(0.1)
