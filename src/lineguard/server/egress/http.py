"""HTTP through the egress gate: one checked address per hop, redirects re-checked, bodies capped.

Each request (and each redirect it follows, up to ``egress.max_redirects``) is checked
by :meth:`EgressGate.check`; the connection goes to the checked address with the
original name in the ``Host`` header and the TLS SNI, so the certificate is verified
against the name, with the rule's pinned CA. A redirect to a destination off the
allowlist is refused (and audited) before anything connects to it. Proxies from the
environment are ignored (``trust_env=False``): a proxy would be a destination the
allowlist never saw. Errors say where and what, never the headers or body sent, so
no credential can leak into a log.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import httpx

from lineguard.contracts.errors import UpstreamError
from lineguard.server.egress.allowlist import Destination
from lineguard.server.egress.gate import ClientChain, EgressGate

__all__ = ["GatedHttp", "HttpResult"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True, slots=True)
class HttpResult:
    status: int
    headers: httpx.Headers
    body: bytes
    #: The URL that answered (after redirects), as named, not as the address used.
    url: str


def _cause_chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


class GatedHttp:
    """``request(method, url, ...)`` for one purpose (named in denials and errors).

    ``timeout_s``: the read timeout of this purpose's requests, when it needs another
    than ``egress.read_timeout_s`` (a language model may take longer than a CMMS).
    """

    def __init__(
        self,
        gate: EgressGate,
        *,
        purpose: str,
        client_chain: ClientChain | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self._gate = gate
        self._purpose = purpose
        self._client_chain = client_chain
        self._timeout_s = timeout_s

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> HttpResult:
        current = httpx.URL(url)
        hops = 0
        while True:
            result, location = self._one(method, current, headers or {}, content)
            if location is None:
                return result
            current = current.join(location)
            # A redirect off the allowlist is refused (and audited) even when none would be followed.
            self._gate.check(self._destination(current), purpose=self._purpose)
            hops += 1
            if hops > self._gate.config.max_redirects:
                limit = self._gate.config.max_redirects
                msg = f"{self._purpose}: {result.url} redirected (egress.max_redirects is {limit})"
                raise UpstreamError(msg, retryable=False)
            if result.status == 303 or (result.status in {301, 302} and method != "HEAD"):
                method, content = "GET", None

    @staticmethod
    def _destination(url: httpx.URL) -> Destination:
        return Destination(
            scheme=url.scheme, host=url.host, port=url.port or _DEFAULT_PORTS.get(url.scheme, 0)
        )

    def _one(
        self, method: str, url: httpx.URL, headers: dict[str, str], content: bytes | None
    ) -> tuple[HttpResult, str | None]:
        scheme = url.scheme
        dest = self._destination(url)
        checked = self._gate.check(dest, purpose=self._purpose)  # refuses non-http(s) too: no rule matches
        where = f"{dest}{url.path}"
        host_header = url.host if url.port is None else f"{url.host}:{url.port}"
        if ":" in url.host and not host_header.startswith("["):
            host_header = f"[{url.host}]" + ("" if url.port is None else f":{url.port}")
        target = url.copy_with(host=str(checked.address))
        extensions = {"sni_hostname": url.host} if scheme == "https" else {}
        verify: ssl.SSLContext | bool = (
            self._gate.tls_context(checked.rule, client_chain=self._client_chain)
            if scheme == "https"
            else False
        )
        config = self._gate.config
        read_s = self._timeout_s if self._timeout_s is not None else config.read_timeout_s
        timeout = httpx.Timeout(read_s, connect=config.connect_timeout_s)
        limit = config.max_response_bytes
        try:
            with (
                httpx.Client(
                    verify=verify, trust_env=False, follow_redirects=False, timeout=timeout
                ) as client,
                client.stream(
                    method,
                    target,
                    headers={**headers, "Host": host_header},
                    content=content,
                    extensions=extensions,
                ) as response,
            ):
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > limit:
                    msg = f"{self._purpose}: {where} answered {declared} bytes, over the {limit}-byte limit"
                    raise UpstreamError(msg, retryable=False)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        msg = f"{self._purpose}: {where} answered more than the {limit}-byte limit"
                        raise UpstreamError(msg, retryable=False)
                status, response_headers = response.status_code, response.headers
        except httpx.TimeoutException:
            msg = f"{self._purpose}: {where} timed out"
            raise UpstreamError(msg, retryable=True) from None
        except httpx.TransportError as exc:
            for cause in _cause_chain(exc):
                if isinstance(cause, ssl.SSLCertVerificationError):
                    msg = f"{self._purpose}: TLS certificate of {dest} not trusted: {cause.verify_message}"
                    raise UpstreamError(msg, retryable=False) from None
            msg = f"{self._purpose}: {where} failed ({exc.__class__.__name__})"
            raise UpstreamError(msg, retryable=True) from None
        result = HttpResult(
            status=status, headers=response_headers, body=bytes(body), url=f"{dest}{url.path}"
        )
        location = response_headers.get("location") if status in _REDIRECTS else None
        if status in _REDIRECTS and location is None:
            msg = f"{self._purpose}: {where} answered {status} without a Location"
            raise UpstreamError(msg, retryable=False)
        return result, location
