"""The translatable catalogue of worker-facing strings: one JSON file per language in ``i18n/``.

A translator adds ``i18n/<lang>.json`` with the same keys as ``en.json``; a test fails
when a language misses a key or a placeholder. Strings are ``str.format`` templates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from lineguard.contracts.errors import InputError

__all__ = ["LANGUAGES", "Catalog", "catalog"]

#: Languages every worker notice is written in.
LANGUAGES: tuple[str, ...] = ("en", "de")


@dataclass(frozen=True)
class Catalog:
    lang: str
    strings: dict[str, str]

    def t(self, key: str, **values: object) -> str:
        try:
            return self.strings[key].format(**values)
        except KeyError as exc:
            msg = f"catalogue {self.lang!r}: no string {key!r} or no value for {exc}"
            raise InputError(msg) from None


@cache
def catalog(lang: str) -> Catalog:
    try:
        raw = resources.files("lineguard.server.governance").joinpath("i18n", f"{lang}.json").read_bytes()
    except FileNotFoundError:
        msg = f"no catalogue for language {lang!r}; available: {', '.join(LANGUAGES)}"
        raise InputError(msg) from None
    return Catalog(lang, dict(json.loads(raw)))
