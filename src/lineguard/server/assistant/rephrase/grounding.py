"""The grounding check: every number and named thing a model writes must be in the facts it was shown.

A small model misreads (asked to restate "line-1 planned 1234 units", gemma3-270m wrote
"line-2"); a prompt injection inside a permitted document may tell it to say something
else. So the model's text is never trusted: :func:`check` pulls every **claim** out of
it and looks each one up in the :class:`~.facts.Facts` the model received (the built-in
answer's sentences and the cited permitted records). One claim that is not there and
the whole text is refused — the built-in answer is returned instead.

Claims, in the order they are taken out of the text (each taken out before the next
kind is looked for, so a date's digits are not also read as a quantity):

* **dates** — ISO (``2026-11-10``) and with a month name (``10 November 2026``,
  ``Nov 2026``, ``November 10``): every part given must match one date of the facts;
* **lines** — ``line-2``, ``Line 2``, ``lines 1 and 2``, ``line two``: each line must be
  named in the facts;
* **identifiers** — a token mixing letters and digits (``SO-1001``, ``P-200``,
  ``LOT-3004``), and a name followed by a number when the facts use that name so
  (``Press 4``): the same identifier must be in the facts (``SO-1002`` is not ``SO-1001``);
* **numbers** — with or without thousands separators (``12,500``, ``12 500`` with a
  narrow space, ``12500.00``), units and per cent signs ignored, and number words
  (``two`` … ``ninety``, ``hundred``, ``thousand``, ``million``): the value must be one
  of the facts' numbers — the digits of a date or an identifier do not count as numbers;
* **names** — a run of capitalised words (``Borealis Castings``) must occur as a phrase
  in the facts, a single capitalised word as a word of the facts, unless it is a
  common English word (sentence openers such as "The", "Total", "There").

Then **pairs**: within one sentence, each number or date and each line, identifier or
multi-word name (and each identifier and line) must occur together in one fact —
"line-1 has 21 orders" is refused when 21 is line-2's figure, even though line-1 is
named elsewhere in the facts.

What it does not catch (docs/assistant.md): a wrong pairing spread over two sentences,
a wrong pairing of two single-word names, a name written entirely in lower case, a
wrong unit, a wrong verb ("rejected" for "produced"). It is a leak guard, not a truth
oracle: the model never sees anything outside the permitted set, so what it can get
wrong is the permitted facts, not hidden ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from lineguard.server.assistant.rephrase.facts import Fact, Facts

__all__ = ["Claims", "Grounding", "check", "claims_of"]

_MONTH_NAMES_BY_NUMBER = (
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
    ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
    ("november", "nov"), ("december", "dec"),
)  # fmt: skip
_MONTHS = {name: n for n, names in enumerate(_MONTH_NAMES_BY_NUMBER, start=1) for name in names}
_NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
    "million": 1_000_000,
}  # fmt: skip
_LINE_NUMBER_WORDS = {"one": 1, **_NUMBER_WORDS}
#: Capitalised words a sentence may start with that name nothing.
_COMMON_WORDS = """
    a about according across after all also an and any are as at based be because before below between
    both but by can could data do does during each every few for from had has have here how however i if in
    including into is it its last less many more most much no none not note of on one only or other our
    over per record records same scope several she since so some summary than that the their them then
    there these they this those through to today total totals under until up was we were what when where
    which while who with within yes you your answer answers overall approximately around average highest
    lowest top first second third fact facts"""
_COMMON = frozenset(_COMMON_WORDS.split())

_MARKERS = re.compile(r"\[\d+\]")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:T[\d:.+Z-]*)?\b")
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_NAMED_DATE = re.compile(
    rf"\b(?:(\d{{1,2}})(?:st|nd|rd|th)?\s+)?({_MONTH_NAMES})\b\.?(?:\s+(\d{{1,2}})(?:st|nd|rd|th)?\b)?"
    r"(?:,?\s+(\d{4})\b)?",
    re.IGNORECASE,
)
_LINE_ITEM = rf"(?:\d+|{'|'.join(_LINE_NUMBER_WORDS)})\b"
_LINES = re.compile(
    rf"\blines?\s*[-_ ]?\s*({_LINE_ITEM}(?:\s*(?:,|and|&|or)\s*(?:lines?\s*[-_ ]?\s*)?{_LINE_ITEM})*)",
    re.IGNORECASE,
)
_LINE_ITEMS = re.compile(_LINE_ITEM, re.IGNORECASE)
_IDENT = re.compile(
    r"\b(?=[A-Za-z0-9_./-]*[A-Za-z])(?=[A-Za-z0-9_./-]*\d)[A-Za-z0-9]+(?:[-_./][A-Za-z0-9]+)*\b"
)
_NAME_NUMBER = re.compile(r"\b([A-Z][a-z]+)\s+(\d+)\b(?![.,]\d)")
_NUMBER = re.compile(r"\d{1,3}(?:[,\u00a0\u202f'’]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_UNITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_COMPOUND_NUMBER = re.compile(rf"\b({'|'.join(_TENS)})[- ]({'|'.join(_UNITS)})\b", re.IGNORECASE)
_WORD_NUMBER = re.compile(rf"\b({'|'.join(_NUMBER_WORDS)})\b", re.IGNORECASE)
_CAPITALISED_RUN = re.compile(r"\b[A-Z][\w'’]*(?:\s+[A-Z][\w'’]*)*")
_WORD = re.compile(r"[\w'’]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_SPACES = re.compile(r"[ \t\r\n]+")
_POSSESSIVE = re.compile(r"['’]s?$")
_NUMBER_UNIT = re.compile(r"^(\d+(?:\.\d+)?)(?:%|[a-zA-Z]{1,4})$")


def _number_key(text: str) -> str | None:
    digits = re.sub(r"[,\u00a0\u202f'’]", "", text)
    try:
        value = Decimal(digits)
    except InvalidOperation:
        return None
    normal = value.normalize()
    return f"{normal:f}"


def _ident_key(text: str) -> str:
    return re.sub(r"[-_./ ]+", "-", text.lower())


@dataclass
class Claims:
    """What one text asserts, as comparable keys (see the module docstring)."""

    numbers: set[str] = field(default_factory=set)
    idents: set[str] = field(default_factory=set)
    lines: set[str] = field(default_factory=set)
    #: (year, month, day), any part None when the text did not give it.
    dates: set[tuple[int | None, int | None, int | None]] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)
    phrase_text: str = ""

    def describe(self) -> list[str]:
        out = [f"number {n}" for n in sorted(self.numbers)] + [f"identifier {i}" for i in sorted(self.idents)]
        out += [f"line {x}" for x in sorted(self.lines)] + [f"name {n}" for n in sorted(self.names)]
        out += [f"date {_date_text(d)}" for d in sorted(self.dates, key=str)]
        return out


def _blank(text: str, match: re.Match[str]) -> str:
    return text[: match.start()] + " " * (match.end() - match.start()) + text[match.end() :]


def claims_of(text: str, *, name_prefixes: frozenset[str] = frozenset()) -> Claims:
    """Every claim of ``text``; ``name_prefixes``: words that take a number as part of a name (``press``)."""
    found = Claims()
    rest = _MARKERS.sub(" ", text)
    found.words = {w.lower() for w in _WORD.findall(rest)}
    found.phrase_text = " ".join(w.lower() for w in _WORD.findall(rest))
    for m in list(_ISO_DATE.finditer(rest)):
        found.dates.add((int(m[1]), int(m[2]), int(m[3])))
        rest = _blank(rest, m)
    for m in list(_NAMED_DATE.finditer(rest)):
        if not m[2][0].isupper():
            continue  # "may" the verb, "mar" the word: month names are capitalised
        day = m[1] or m[3]
        found.dates.add((int(m[4]) if m[4] else None, _MONTHS[m[2].lower()], int(day) if day else None))
        rest = _blank(rest, m)
    for m in list(_LINES.finditer(rest)):
        for item in _LINE_ITEMS.findall(m[1]):
            n = int(item) if item.isdigit() else _LINE_NUMBER_WORDS[item.lower()]
            found.lines.add(f"line-{n}")
        rest = _blank(rest, m)
    for m in list(_NAME_NUMBER.finditer(rest)):
        if m[1].lower() in name_prefixes:
            found.idents.add(_ident_key(f"{m[1]}-{m[2]}"))
            rest = _blank(rest, m)
    for m in list(_IDENT.finditer(rest)):
        unit = _NUMBER_UNIT.match(m[0])
        if unit is not None:  # 25Nm, 45%, 2000h: a number with its unit
            key = _number_key(unit[1])
            if key is not None:
                found.numbers.add(key)
        else:
            found.idents.add(_ident_key(m[0]))
        rest = _blank(rest, m)
    for m in list(_NUMBER.finditer(rest)):
        key = _number_key(m[0])
        if key is not None:
            found.numbers.add(key)
        rest = _blank(rest, m)
    for m in list(_COMPOUND_NUMBER.finditer(rest)):  # twenty-one
        found.numbers.add(str(_NUMBER_WORDS[m[1].lower()] + _LINE_NUMBER_WORDS[m[2].lower()]))
        rest = _blank(rest, m)
    for m in _WORD_NUMBER.finditer(rest):
        found.numbers.add(str(_NUMBER_WORDS[m[1].lower()]))
    for sentence in _SENTENCE.split(rest):
        for m in _CAPITALISED_RUN.finditer(sentence):
            words = [_POSSESSIVE.sub("", w) for w in m[0].split()]
            words = [w for w in words if w.lower() not in _COMMON and w.lower() not in _MONTHS]
            if words:
                found.names.add(" ".join(w.lower() for w in words))
    return found


@dataclass(frozen=True, slots=True)
class Grounding:
    """The verdict on one text: what is not in the facts, and each sentence's supporting records."""

    unsupported: tuple[str, ...]
    sentences: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def grounded(self) -> bool:
        return not self.unsupported and bool(self.sentences)


def _date_text(date: tuple[int | None, ...]) -> str:
    return "-".join("?" if p is None else str(p) for p in date)


def _same_day(claimed: tuple[int | None, ...], known: tuple[int | None, ...]) -> bool:
    """Every part the claim gives equals the known date's (a month-only fact matches a month claim)."""
    return all(p is None or p == q for p, q in zip(claimed, known, strict=True))


def _supported(claims: Claims, facts: Claims) -> list[str]:
    missing = [f"number {n}" for n in sorted(claims.numbers - facts.numbers)]
    missing += [f"identifier {i}" for i in sorted(claims.idents - facts.idents)]
    missing += [f"line {x}" for x in sorted(claims.lines - facts.lines)]
    for name in sorted(claims.names):
        inside = f" {name} " in f" {facts.phrase_text} " if " " in name else name in facts.words
        if not inside:
            missing.append(f"name {name}")
    for date in sorted(claims.dates, key=str):
        if not any(_same_day(date, known) for known in facts.dates):
            missing.append(f"date {_date_text(date)}")
    return missing


def _unpaired(claims: Claims, per_fact: list[tuple[Fact, Claims]]) -> list[str]:
    """Each (number or date, line/identifier/multi-word name) of one sentence must share a fact."""
    entities = [("line", x) for x in claims.lines] + [("identifier", i) for i in claims.idents]
    entities += [("name", n) for n in claims.names if " " in n]
    missing = []
    for kind, entity in sorted(entities):
        holders = [
            c
            for _, c in per_fact
            if (
                entity in c.lines or entity in c.idents
                if kind != "name"
                else f" {entity} " in f" {c.phrase_text} "
            )
        ]
        for number in sorted(claims.numbers):
            if not any(number in c.numbers for c in holders):
                missing.append(f"{kind} {entity} with number {number}")
        for date in sorted(claims.dates, key=str):
            if not any(_same_day(date, d) for c in holders for d in c.dates):
                missing.append(f"{kind} {entity} with date {_date_text(date)}")
        if kind == "identifier":
            missing += [
                f"identifier {entity} with line {line}"
                for line in sorted(claims.lines)
                if not any(line in c.lines for c in holders)
            ]
    return missing


def _merged(parts: list[Claims]) -> Claims:
    out = Claims()
    for c in parts:
        out.numbers |= c.numbers
        out.idents |= c.idents
        out.lines |= c.lines
        out.dates |= c.dates
        out.names |= c.names
        out.words |= c.words
    out.phrase_text = " | ".join(c.phrase_text for c in parts)
    return out


def _prefixes(facts: Facts) -> frozenset[str]:
    return frozenset(m[1].lower() for f in facts.all for m in _NAME_NUMBER.finditer(f.text))


def check(text: str, facts: Facts) -> Grounding:
    """Whether every claim of ``text`` is in ``facts``; see the module docstring."""
    prefixes = _prefixes(facts)
    per_fact: list[tuple[Fact, Claims]] = [(f, claims_of(f.text, name_prefixes=prefixes)) for f in facts.all]
    known = _merged([c for _, c in per_fact])
    everything = tuple(dict.fromkeys(rid for f in facts.sentences for rid in f.record_ids))
    unsupported: list[str] = []
    sentences: list[tuple[str, tuple[str, ...]]] = []
    for sentence in _SENTENCE.split(_MARKERS.sub("", text)):
        s = _SPACES.sub(" ", sentence).strip()  # not str.split(): it would split "12\u202f500"
        if not s:
            continue
        claims = claims_of(s, name_prefixes=prefixes)
        unsupported += _supported(claims, known) or _unpaired(claims, per_fact)
        support: list[str] = []
        for fact, fact_claims in per_fact:
            shared = (
                (claims.numbers & fact_claims.numbers)
                or (claims.idents & fact_claims.idents)
                or (claims.lines & fact_claims.lines)
                or {n for n in claims.names if f" {n} " in f" {fact_claims.phrase_text} "}
            )
            if shared:
                support += [rid for rid in fact.record_ids if rid not in support]
        sentences.append((s, tuple(support) or everything))
    return Grounding(unsupported=tuple(dict.fromkeys(unsupported)), sentences=tuple(sentences))
