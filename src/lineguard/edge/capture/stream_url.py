"""Stream URLs and the credentials inside them: what may be logged, what goes on the wire.

A camera URL may carry ``user:password@`` (percent-encoded): :func:`with_credentials` puts
the configured ones in just before FFmpeg opens it. Only :func:`redact_url`'s form ever
reaches a log line, a status file or an error message; :func:`split_credentials` gives
the URL without them plus the decoded user and password for an RTSP request.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

__all__ = ["redact_url", "split_credentials", "with_credentials"]


def _split(url: str) -> tuple[str, str, str]:
    """``(scheme://, authority, rest)``; the authority ends at the first ``/``, ``?`` or ``#``."""
    scheme, sep, after = url.partition("://")
    if not sep:
        return "", "", url
    end = min((after.index(c) for c in "/?#" if c in after), default=len(after))
    return scheme + sep, after[:end], after[end:]


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``: safe to log.

    The authority ends at the first ``/``, ``?`` or ``#`` (as FFmpeg and urllib read it)
    and the credentials end at its *last* ``@``, so a password holding ``@`` or ``:`` is
    removed whole. The config refuses an ``@`` after the authority, where an unencoded
    ``/`` in a password would put the rest of it.
    """
    prefix, authority, rest = _split(url)
    if "@" not in authority:
        return url
    return f"{prefix}***@{authority.rpartition('@')[2]}{rest}"


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """``(url without credentials, user, password)``, user and password percent-decoded."""
    prefix, authority, rest = _split(url)
    if "@" not in authority:
        return url, None, None
    userinfo, _, host = authority.rpartition("@")
    user, colon, password = userinfo.partition(":")
    return f"{prefix}{host}{rest}", unquote(user), unquote(password) if colon else None


def with_credentials(url: str, user: str, password: str) -> str:
    """``url`` signing in as ``user``/``password`` (percent-encoded; replaces any user-info)."""
    prefix, authority, rest = _split(url)
    host = authority.rpartition("@")[2]
    return f"{prefix}{quote(user, safe='')}:{quote(password, safe='')}@{host}{rest}"
