"""Matching a destination against the allowlist, and the addresses its name may resolve to.

Pure functions over the config: no sockets here. A destination is allowed when one rule
has the same scheme, the same port and the same host (case-insensitive; ``*.domain``
matches one or more labels under ``domain``, never ``domain`` itself, and only when the
config opted into wildcards). An address is acceptable when it lies in the rule's
``addresses`` or, without them, is not link-local (cloud metadata endpoints live
there), multicast, reserved or unspecified.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from lineguard.config.egress import EgressConfig, EgressRule

__all__ = ["Destination", "IpAddress", "address_problem", "match_rule"]

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a connection wants to go, as the caller named it."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def _host_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        suffix = pattern[1:]  # ".domain"
        return host.endswith(suffix) and len(host) > len(suffix)
    return pattern == host


def match_rule(config: EgressConfig, dest: Destination) -> EgressRule | None:
    """The first rule allowing ``dest``, or None."""
    host = dest.host.lower().rstrip(".")
    for rule in config.allow:
        if rule.scheme != dest.scheme or rule.port != dest.port:
            continue
        if rule.is_wildcard and not config.allow_wildcards:
            continue
        if _host_matches(rule.host, host):
            return rule
    return None


def address_problem(rule: EgressRule, address: IpAddress) -> str | None:
    """Why ``address`` may not be used for ``rule`` (None: it may)."""
    if rule.addresses:
        if any(address in ipaddress.ip_network(n, strict=False) for n in rule.addresses):
            return None
        return f"resolved to {address}, outside the rule's addresses {', '.join(rule.addresses)}"
    for bad, label in (
        (address.is_unspecified, "unspecified"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_reserved, "reserved"),
    ):
        if bad:
            return f"resolved to {address}, a {label} address"
    return None
