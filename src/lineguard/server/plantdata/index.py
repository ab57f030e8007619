"""The search index of plant data: keyed hashes of terms, never plaintext.

Record bodies and document text are sealed (envelope-encrypted), so a full-text index
over the plaintext (SQLite FTS5, a PostgreSQL ``tsvector``) would put back into the
database, in the clear, exactly what sealing took out of it — and a retention sweep
would have to find and scrub it too. Instead every term is indexed as
``HMAC-SHA256(index key, term)`` cut to 64 bits (:class:`IndexKey`), in a plain
posting table (``plant_terms``: term hash, record id) that works the same on SQLite
and PostgreSQL and is deleted with its record (``ON DELETE CASCADE``).

The same key hashes the lookup dimensions of structured records (part, order, party,
asset, lot), so "orders of supplier Acme" is an equality on ``party_h`` without the
name being stored in the clear; the name shown in an answer comes from opening the
sealed body of a record the reader may see.

What this leaks, stated plainly: someone with the database but without the keyring
sees which records share a term or a dimension value and how often a term occurs (a
keyed hash is deterministic), never the term itself. The index key is random, stored
sealed under the keyring (``plant_index_keys``); shredding the keyring makes the index
as unreadable as the records.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable

__all__ = ["STOPWORDS", "IndexKey", "normalise", "tokens"]

_TOKEN = re.compile(r"[0-9a-z]+(?:[-_/.][0-9a-z]+)*")
_PART = re.compile(r"[0-9a-z]+")
#: Words too common to find anything with (questions are full of them).
STOPWORDS = frozenset(
    """a an and are as at be by can did do does for from give had has have how i in is it its
    list me much many my of on or our please show tell that the their them there these this
    to us was we were what when where which who why will with you your all any per about
    total sum number count""".split()  # noqa: SIM905 - a word list reads better as text
)


def normalise(text: str) -> str:
    """Case- and width-folded text (NFKC, lower case, single spaces)."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def tokens(text: str) -> list[str]:
    """Index terms of ``text``: each word-like token, and the parts of compound ones
    (``SO-1001`` gives ``so-1001``, ``so`` and ``1001``), stopwords left out."""
    found: list[str] = []
    for token in _TOKEN.findall(normalise(text)):
        found.append(token)
        parts = _PART.findall(token)
        if len(parts) > 1:
            found.extend(parts)
    return [t for t in dict.fromkeys(found) if t not in STOPWORDS and len(t) <= 64]


class IndexKey:
    """A secret HMAC key turning terms and dimension values into opaque 64-bit hashes."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            msg = "an index key has at least 32 bytes"
            raise ValueError(msg)
        self._key = key

    def __repr__(self) -> str:
        return "IndexKey(<secret>)"

    def _hash(self, domain: str, value: str) -> str:
        mac = hmac.new(self._key, f"{domain}\x00{value}".encode(), hashlib.sha256)
        return mac.hexdigest()[:16]

    def term(self, token: str) -> str:
        return self._hash("term", token)

    def terms(self, text: str) -> list[str]:
        return [self.term(t) for t in tokens(text)]

    def dimension(self, name: str, value: str) -> str:
        """Hash of one dimension value (``part``, ``order``…), compared case-insensitively."""
        return self._hash(f"dim:{name}", normalise(value))

    def content(self, parts: Iterable[bytes]) -> str:
        """A keyed digest of a record's content: re-imports of unchanged data write nothing."""
        mac = hmac.new(self._key, b"content", hashlib.sha256)
        for part in parts:
            mac.update(len(part).to_bytes(8, "big"))
            mac.update(part)
        return mac.hexdigest()
