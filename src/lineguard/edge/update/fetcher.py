"""TUF downloads over the node's existing mTLS channel to the plant server.

python-tuf fetches through a :class:`~tuf.ngclient.FetcherInterface`; this one streams
with the node's ``httpx.Client`` (plant CA pinned, client certificate presented — see
:func:`lineguard.edge.identity.https_client`), so update traffic needs no other
credential or port. TUF enforces the length limits itself while streaming.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
from tuf.api.exceptions import DownloadError, DownloadHTTPError
from tuf.ngclient import FetcherInterface

__all__ = ["HttpxFetcher"]

_CHUNK = 64 * 1024


class HttpxFetcher(FetcherInterface):
    """Streams each URL with one shared ``httpx.Client``."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def close(self) -> None:
        """Close the connections (the server waits for open keep-alive connections on shutdown)."""
        self._client.close()

    def _fetch(self, url: str) -> Iterator[bytes]:
        try:
            response = self._client.send(self._client.build_request("GET", url), stream=True)
        except httpx.HTTPError as exc:
            msg = f"cannot reach {url}: {type(exc).__name__}: {exc}"
            raise DownloadError(msg) from None
        if response.status_code != 200:
            response.close()
            msg = f"{url} answered HTTP {response.status_code}"
            raise DownloadHTTPError(msg, response.status_code)
        return self._chunks(response)

    @staticmethod
    def _chunks(response: httpx.Response) -> Iterator[bytes]:
        try:
            yield from response.iter_bytes(_CHUNK)
        except httpx.HTTPError as exc:
            msg = f"download interrupted: {type(exc).__name__}: {exc}"
            raise DownloadError(msg) from None
        finally:
            response.close()
