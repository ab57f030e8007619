"""The egress gate: the one place the plant server opens an outbound connection.

``EgressGate.check(destination)`` returns a :class:`Pass` — the rule that allows the
destination and the single address to connect to — or raises
:class:`~lineguard.contracts.errors.EgressDeniedError` after reporting the denial
(``on_denied``, which the app turns into an ``egress.denied`` audit entry). The name is
resolved exactly once per connection and the connection goes to that checked address,
so a DNS answer that changes between check and connect (rebinding) cannot redirect
it; TLS still verifies the certificate against the *name*, with the rule's pinned CA
when one is configured. ``open_tcp``/``open_tls``/``open_udp`` are the socket-level
doors (syslog, MQTT); :mod:`.http` is the HTTP one.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lineguard.config.egress import EgressConfig, EgressRule
from lineguard.contracts.errors import EgressDeniedError, UpstreamError
from lineguard.server.egress.allowlist import Destination, IpAddress, address_problem, match_rule

__all__ = ["ClientChain", "Denial", "EgressGate", "Pass", "Resolver", "system_resolver"]

log = logging.getLogger(__name__)

#: ``(host, port) -> addresses``; the system's resolver by default, a fake in tests.
Resolver = Callable[[str, int], list[IpAddress]]
#: A client certificate chain and its key (PEM files) for mutual TLS.
ClientChain = tuple[Path, Path]


def system_resolver(host: str, port: int) -> list[IpAddress]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IpAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


@dataclass(frozen=True, slots=True)
class Pass:
    """A checked destination: the rule that allows it and the one address to use."""

    destination: Destination
    rule: EgressRule
    address: IpAddress


@dataclass(frozen=True, slots=True)
class Denial:
    """A refused connection, as reported to ``on_denied`` (and shown on the dashboard)."""

    destination: Destination
    purpose: str
    reason: str
    at: datetime


class EgressGate:
    """Checks every destination against ``config`` and opens connections to checked addresses."""

    def __init__(
        self,
        config: EgressConfig,
        *,
        resolver: Resolver = system_resolver,
        on_denied: Callable[[Denial], None] | None = None,
    ) -> None:
        self.config = config
        self._resolver = resolver
        self._on_denied = on_denied
        self._contexts: dict[tuple[Path | None, ClientChain | None], ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self.denied = 0
        self.last_denial: Denial | None = None

    # -- checking ---------------------------------------------------------------------

    def _deny(self, dest: Destination, purpose: str, reason: str) -> EgressDeniedError:
        denial = Denial(destination=dest, purpose=purpose, reason=reason, at=datetime.now(UTC))
        with self._lock:
            self.denied += 1
            self.last_denial = denial
        if self._on_denied is not None:
            try:
                self._on_denied(denial)
            except Exception:  # the refusal stands even if recording it failed
                log.exception("could not record the egress denial of %s", dest)
        return EgressDeniedError(f"egress to {dest} refused ({purpose}): {reason}")

    def rule_for(self, dest: Destination) -> EgressRule | None:
        """The rule naming ``dest`` (no DNS, nothing recorded), e.g. for its pinned CA."""
        return match_rule(self.config, dest)

    def allows(self, dest: Destination) -> bool:
        """Whether a rule names ``dest`` (no DNS, nothing recorded): for checking config at start."""
        return match_rule(self.config, dest) is not None

    def check(self, dest: Destination, *, purpose: str) -> Pass:
        """The rule and address for ``dest``; :class:`EgressDeniedError` if it is not allowed."""
        rule = match_rule(self.config, dest)
        if rule is None:
            raise self._deny(dest, purpose, "not in the egress allowlist")
        try:
            addresses: list[IpAddress] = [ipaddress.ip_address(dest.host)]
        except ValueError:
            try:
                addresses = self._resolver(dest.host, dest.port)
            except OSError as exc:
                msg = f"cannot resolve {dest.host} ({exc.strerror or exc})"
                raise UpstreamError(msg, retryable=True) from None
        problems = []
        for address in addresses:
            problem = address_problem(rule, address)
            if problem is None:
                return Pass(destination=dest, rule=rule, address=address)
            problems.append(problem)
        raise self._deny(dest, purpose, "; ".join(problems) or "the name resolved to no address")

    # -- TLS ----------------------------------------------------------------------------

    def tls_context(self, rule: EgressRule, *, client_chain: ClientChain | None = None) -> ssl.SSLContext:
        """TLS 1.2+ verifying the peer against the rule's pinned CA (or the system store)."""
        key = (rule.ca_file, client_chain)
        with self._lock:
            context = self._contexts.get(key)
            if context is None:
                context = ssl.create_default_context(cafile=str(rule.ca_file) if rule.ca_file else None)
                context.minimum_version = ssl.TLSVersion.TLSv1_2
                if client_chain is not None:
                    context.load_cert_chain(str(client_chain[0]), str(client_chain[1]))
                self._contexts[key] = context
        return context

    # -- sockets --------------------------------------------------------------------------

    def open_tcp(self, dest: Destination, *, purpose: str, timeout_s: float | None = None) -> socket.socket:
        """A TCP connection to the checked address of ``dest``."""
        checked = self.check(dest, purpose=purpose)
        timeout = timeout_s if timeout_s is not None else self.config.connect_timeout_s
        try:
            return socket.create_connection((str(checked.address), dest.port), timeout=timeout)
        except OSError as exc:
            msg = f"cannot connect to {dest} ({exc.strerror or exc.__class__.__name__})"
            raise UpstreamError(msg, retryable=True) from None

    def open_tls(
        self,
        dest: Destination,
        *,
        purpose: str,
        client_chain: ClientChain | None = None,
        timeout_s: float | None = None,
    ) -> ssl.SSLSocket:
        """``open_tcp`` wrapped in TLS, the certificate checked against the name in ``dest``."""
        checked = self.check(dest, purpose=purpose)
        context = self.tls_context(checked.rule, client_chain=client_chain)
        timeout = timeout_s if timeout_s is not None else self.config.connect_timeout_s
        try:
            raw = socket.create_connection((str(checked.address), dest.port), timeout=timeout)
        except OSError as exc:
            msg = f"cannot connect to {dest} ({exc.strerror or exc.__class__.__name__})"
            raise UpstreamError(msg, retryable=True) from None
        try:
            return context.wrap_socket(raw, server_hostname=dest.host)
        except ssl.SSLCertVerificationError as exc:
            raw.close()
            msg = f"TLS certificate of {dest} not trusted: {exc.verify_message}"
            raise UpstreamError(msg, retryable=False) from None
        except (ssl.SSLError, OSError) as exc:
            raw.close()
            msg = f"TLS handshake with {dest} failed ({exc.__class__.__name__})"
            raise UpstreamError(msg, retryable=True) from None

    def open_udp(self, dest: Destination, *, purpose: str) -> socket.socket:
        """A UDP socket connected to the checked address (``send`` goes only there)."""
        checked = self.check(dest, purpose=purpose)
        family = socket.AF_INET6 if checked.address.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.connect((str(checked.address), dest.port))
        return sock
