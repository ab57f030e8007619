"""From a question to a plan: what to compute, over which kind of record, filtered how.

The built-in answerer understands plant questions by rules, not by a language model:
a **topic** (which records: sales orders and their lines, production orders,
inspections, work orders, supplier prices and terms, stock, unit and product costs,
scrap costs — each bound to one category), an **operation**
(count, sum, average, top-N, trend by month, comparison by line, lookup of a named
thing, a recommendation, or a word search over documents), a **measure** (the
record's quantity or amount) and **filters** (lines, a month or year or a relative
date resolved against the moment of asking — :mod:`.periods` —, named things).

Named things (an order, a part, a lot, a supplier, a machine) are recognised without a
list of names: every 1–3-word span of the question is hashed with the index key and
looked up among the records the person may read (:mod:`.queries`). So a question that
names a hidden supplier finds nothing — exactly as if that supplier did not exist.
Nothing of the question is ever copied into an answer.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from lineguard.server.assistant.periods import relative_period
from lineguard.server.auth import Category
from lineguard.server.plantdata import normalise

__all__ = ["TOPICS", "Operation", "Plan", "Topic", "parse"]

Operation = Literal["count", "sum", "average", "top", "trend", "compare", "lookup", "recommend", "search"]
Measure = Literal["count", "quantity", "amount"]
Dimension = Literal["party", "part", "asset", "lot", "order", "line"]


@dataclass(frozen=True, slots=True)
class Topic:
    """One kind of record the answerer can compute over."""

    record_type: str
    category: Category
    noun: str  # plural, for sentences
    quantity: str  # what its quantity measures
    amount: str | None  # what its amount measures (None: it has none)
    party: str  # what its party dimension is called (customer, supplier…)


TOPICS: dict[str, Topic] = {
    t.record_type: t
    for t in (
        Topic(
            "sales_order",
            Category.CUSTOMER_ORDERS,
            "sales orders",
            "units ordered",
            "order value",
            "customer",
        ),
        Topic(
            "production_order",
            Category.PRODUCTION_DATA,
            "production orders",
            "units produced",
            None,
            "customer",
        ),
        Topic("quality_inspection", Category.QUALITY_DATA, "inspections", "units rejected", None, "supplier"),
        Topic("work_order", Category.MAINTENANCE_DATA, "work orders", "downtime minutes", None, "technician"),
        Topic(
            "purchase_price",
            Category.VENDOR_TERMS,
            "supplier prices",
            "minimum order units",
            "unit price",
            "supplier",
        ),
        Topic(
            "stock_valuation",
            Category.FINANCE_PRICING,
            "stock positions",
            "units in stock",
            "stock value",
            "warehouse",
        ),
        Topic(
            "unit_cost", Category.FINANCE_PRICING, "unit costs", "units costed", "unit cost", "cost centre"
        ),
        # Record types of the ERP connector (docs/plant-data.md#what-becomes-what).
        Topic(
            "sales_order_line",
            Category.CUSTOMER_ORDERS,
            "order lines",
            "units ordered",
            "line value",
            "customer",
        ),
        Topic(
            "supplier_terms",
            Category.VENDOR_TERMS,
            "supplier terms",
            "terms",
            None,
            "supplier",
        ),
        Topic("product_cost", Category.FINANCE_PRICING, "product costs", "products", None, "party"),
        # Derived: failed inspection × production quantity × cost price — finance, whole site.
        Topic(
            "scrap_cost", Category.FINANCE_PRICING, "scrap costs", "units scrapped", "scrap cost", "supplier"
        ),
    )
}

# (pattern, topic): the first that matches decides; more specific phrases first.
_TOPIC_WORDS: tuple[tuple[str, str], ...] = (
    (r"scrap costs?|cost of (the )?scrap|scrapped value|cost of (the )?rejects", "scrap_cost"),
    (r"payment terms?|lead times?|supplier terms|delivery terms|supplier codes?", "supplier_terms"),
    (r"purchase price|supplier price|vendor price|purchase|procure|cheap|expensive", "purchase_price"),
    (r"stock|inventory|warehouse", "stock_valuation"),
    (r"list price|cost price|product costs?|selling price", "product_cost"),
    (r"unit cost|standard cost|costing|margin", "unit_cost"),
    (r"order lines?|lines? (of|on|in) (the )?(sales )?orders?|line items?", "sales_order_line"),
    (r"sales order|customer order|customer|revenue|sales|sold|order value|backlog", "sales_order"),
    (r"work order|downtime|maintenance|repair|breakdown|machine|asset|technician", "work_order"),
    (r"inspection|defect|reject|scrap|quality|lot\b|lots\b|nonconform|failed|fail\b", "quality_inspection"),
    (r"production order|produced|production|output|manufactur|planned|build", "production_order"),
    (r"unit price|price list|\bprices?\b|\bpricing\b|payment|terms\b|supplier|vendor", "purchase_price"),
    (r"\borders?\b", "sales_order"),
)
_QUANTITY_WORDS = re.compile(
    r"\b(units?|pieces?|pcs|quantity|quantities|volume|defects?|rejects?|rejected|scrap(ped)?|downtime|minutes|"
    r"produced|output|in stock|on hand)\b"
)
_AMOUNT_WORDS = re.compile(
    r"\b(value|revenue|amount|worth|spend|spent|cost|costs|price|prices|eur|usd|money|sales value)\b|[€$]"
)
_COUNT_WORDS = re.compile(r"\b(how many|number of|count)\b")
_TOP = re.compile(r"\b(top|largest|biggest|highest|most|best|worst|lowest|least|smallest|which|who)\b")
_TOP_N = re.compile(r"\btop\s+(\d{1,2})\b")
_ASCENDING = re.compile(r"\b(lowest|least|smallest|cheapest|fewest)\b")
_TREND = re.compile(r"\b(trend|per month|by month|monthly|each month|over time|month by month)\b")
_COMPARE = re.compile(r"\b(compare|comparison|versus|vs\.?|per line|by line|each line)\b")
_AVERAGE = re.compile(r"\b(average|mean|avg)\b")
_SUM = re.compile(r"\b(total|sum|how much|overall|altogether)\b")
_RECOMMEND = re.compile(
    r"\b(raise|open|create|file|log|schedule)\s+(a\s+|an\s+)?(work order|maintenance order|repair)|"
    r"\b(hold|quarantine|block)\b.*\blots?\b|\blots?\b.*\b(on hold|hold|quarantine)\b"
)
_LINE = re.compile(
    r"\blines?\s*[-#]?\s*([0-9]{1,3}|(?<=[\s#-])[a-z]\b)((?:\s*(?:,|and|&|vs\.?|versus|or)\s*(?:line\s*[-#]?\s*)?(?:[0-9]{1,3}))*)"
)
_MORE_LINES = re.compile(r"[0-9]{1,3}")
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_YEAR = re.compile(r"\b(20[0-9]{2})\b")
_ISO_MONTH = re.compile(r"\b(20[0-9]{2})-(0[1-9]|1[0-2])\b")
_DIMENSION_WORDS: tuple[tuple[str, Dimension], ...] = (
    (r"\b(customers?|suppliers?|vendors?|clients?|parties|party)\b", "party"),
    (r"\b(parts?|products?|items?|skus?)\b", "part"),
    (r"\b(machines?|assets?|equipment|presses)\b", "asset"),
    (r"\blines\b|\bper line\b|\bby line\b|\beach line\b", "line"),
)
_WORD = re.compile(r"[0-9a-z]+(?:[-_/.][0-9a-z]+)*")


@dataclass(frozen=True)
class Plan:
    """What the answerer will compute; built from the question only (no data read yet)."""

    operation: Operation
    topic: Topic | None
    measure: Measure = "count"
    group_by: Dimension | None = None
    top_n: int = 3
    ascending: bool = False
    lines: frozenset[str] | None = None
    period: tuple[datetime, datetime] | None = None
    #: Spans of the question to look up as named things (hashed before any query).
    spans: tuple[str, ...] = ()
    #: Words that look like names or ids (``Press``, ``p-200``): if none of the named
    #: things found covers them, the question is about something not in the scope.
    names: tuple[str, ...] = ()
    words: tuple[str, ...] = field(default=())
    action: Literal["work_order", "hold_lot"] | None = None


def _topic(text: str) -> Topic | None:
    for pattern, record_type in _TOPIC_WORDS:
        if re.search(pattern, text):
            return TOPICS[record_type]
    return None


def _lines(text: str) -> frozenset[str] | None:
    found: set[str] = set()
    for match in _LINE.finditer(text):
        found.add(f"line-{match.group(1)}")
        found.update(f"line-{n}" for n in _MORE_LINES.findall(match.group(2) or ""))
    return frozenset(found) or None


def _period(text: str, now: datetime | None) -> tuple[datetime, datetime] | None:
    relative = relative_period(text, now) if now is not None else None
    if relative is not None:
        return relative
    iso = _ISO_MONTH.search(text)
    if iso:
        year, month = int(iso.group(1)), int(iso.group(2))
        return _month(year, month)
    year_match = _YEAR.search(text)
    for word in _WORD.findall(text):
        if word in _MONTHS and (
            len(word) > 3
            or word in {"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
        ):
            if year_match is None:
                return None  # a month without a year is ambiguous ("may" is more often a verb)
            return _month(int(year_match.group(1)), _MONTHS[word])
    if year_match and re.search(r"\b(in|during|for|of)\s+" + year_match.group(1), text):
        year = int(year_match.group(1))
        return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    return None


def _month(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _spans(text: str) -> tuple[str, ...]:
    words = _WORD.findall(text)
    spans: list[str] = []
    for size in (1, 2, 3):
        for i in range(len(words) - size + 1):
            spans.append(" ".join(words[i : i + size]))
    return tuple(dict.fromkeys(s for s in spans if len(s) <= 80))


_ID = re.compile(r"\b[a-z]{1,6}-?[0-9]{2,}[a-z0-9-]*\b")
_NOT_NAMES = frozenset({m.lower() for m in _MONTHS}) | frozenset(
    (
        "i", "line", "lines", "system", "ignore", "show", "list", "what", "which", "how", "is", "are", "does",
        "do", "as", "you", "pretend", "top", "total", "compare", "monthly", "give", "tell", "repeat", "print",
        "follow", "disregard", "reveal", "sum", "average", "should", "raise", "hold", "open",
    )
)  # fmt: skip


def _names(question: str) -> tuple[str, ...]:
    """Capitalised words after the first word, and id-like tokens (``SO-1001``), lower-cased."""
    found: list[str] = []
    words = re.findall(r"[A-Za-z0-9][A-Za-z0-9-]*", question)
    for i, word in enumerate(words):
        lower = word.lower()
        if re.fullmatch(r"line-?[0-9]+|20[0-9]{2}", lower) or lower in _NOT_NAMES:
            continue
        if _ID.fullmatch(lower) or (i > 0 and word[0].isupper() and not word.isupper()):
            found.append(lower)
    return tuple(dict.fromkeys(found))


def _measure(text: str, topic: Topic | None) -> Measure:
    if _AMOUNT_WORDS.search(text) and topic is not None and topic.amount is not None:
        return "amount"
    if _QUANTITY_WORDS.search(text):
        return "quantity"
    if _COUNT_WORDS.search(text):
        return "count"
    if topic is not None and topic.amount is not None and _SUM.search(text):
        return "amount"
    return "quantity" if _SUM.search(text) or _AVERAGE.search(text) else "count"


def _group(text: str) -> Dimension | None:
    for pattern, dim in _DIMENSION_WORDS:
        if re.search(pattern, text):
            return dim
    return None


def _top_n(text: str) -> int:
    explicit = _TOP_N.search(text)
    if explicit:
        return max(1, min(int(explicit.group(1)), 20))
    per_group = re.search(r"\b(by|per|each)\b", text) is not None
    if re.search(r"\b(which|who)\b", text) and not per_group:
        return 1  # "which customer ordered the most?"
    return 3 if _TOP.search(text) else 10


def parse(question: str, *, now: datetime | None = None) -> Plan:
    """The plan for ``question`` (already length-checked); ``now`` resolves relative dates
    ("last month", :mod:`.periods`) — without it they filter nothing."""
    text = normalise(question)
    topic = _topic(text)
    base = Plan(
        "lookup",
        topic,
        lines=_lines(text),
        period=_period(text, now),
        spans=_spans(text),
        words=tuple(_WORD.findall(text)),
        names=_names(question),
    )
    if _RECOMMEND.search(text):
        action: Literal["work_order", "hold_lot"] = (
            "hold_lot" if re.search(r"\blots?\b", text) else "work_order"
        )
        wanted = TOPICS["quality_inspection" if action == "hold_lot" else "work_order"]
        return replace(base, operation="recommend", topic=wanted, action=action)
    measure = _measure(text, topic)
    if topic is None:
        return replace(base, measure=measure)
    if _TREND.search(text):
        return replace(base, operation="trend", measure=measure)
    if _COMPARE.search(text) and (base.lines is None or len(base.lines) != 1):
        return replace(base, operation="compare", measure=measure, group_by="line")
    group = _group(text)
    if group is not None and (
        _TOP_N.search(text) or _TOP.search(text) or re.search(r"\b(by|per|each)\b", text)
    ):
        if measure == "count" and not _COUNT_WORDS.search(text):
            measure = "amount" if topic.amount is not None else "quantity"
        return replace(
            base, operation="top", measure=measure, group_by=group, top_n=_top_n(text),
            ascending=bool(_ASCENDING.search(text)),
        )  # fmt: skip
    if _AVERAGE.search(text):
        return replace(base, operation="average", measure="amount" if measure == "amount" else "quantity")
    asks_figure = re.search(r"\bwhat (is|was|are|were) the\b", text) is not None
    if (
        _COUNT_WORDS.search(text)
        or _SUM.search(text)
        or (asks_figure and measure != "count" and topic.record_type != "purchase_price")
    ):
        return replace(base, operation="count" if measure == "count" else "sum", measure=measure)
    return replace(base, measure=measure)
