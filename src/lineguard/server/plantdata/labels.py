"""Labels of plant data: the category a record belongs to and the scope it sits in.

Every plant record carries one **category** (a plant-data category of the access
catalog: production, quality, maintenance, finance and pricing, vendor terms, customer
orders) and one **scope**: the whole site, or a set of lines.

Scope semantics (what the compiled read filter and the Cedar policy agree on):

* a **site** record is readable only through a site-wide grant of its category;
* a record of **lines** ``{1, 2}`` is readable by someone who may read the category on
  *every* one of those lines (a report about lines 1 and 2 carries line 2's data, so a
  line-1-only reader never sees it). Site-level categories (finance, vendor terms,
  customer orders) are readable only site-wide whatever lines they name.

So the audience *shrinks* as lines are added, and a site record has the smallest
audience of all. :func:`narrowest` merges two scopes into the one whose audience is the
intersection of both: that is what a re-import keeps, so an import or a sync **never
widens** a record's scope.

**Derived values carry the strictest label of their sources** (:func:`derived_label`):
a value computed from several records (a scrap cost from quality counts and unit
prices) gets the strictest of their categories by :data:`STRICTNESS` and the narrowest
of their scopes. See docs/plant-data.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lineguard.contracts.errors import InputError
from lineguard.server.auth import Action, Category

__all__ = [
    "PLANT_CATEGORIES",
    "STRICTNESS",
    "Label",
    "Scope",
    "derived_label",
    "narrowest",
    "plant_category",
    "read_action",
]

#: The plant-data categories, least strict first. Commercial data (site level: only a
#: site-wide grant reaches it) is stricter than operational line data; finance and
#: pricing is the strictest. A derived value takes the highest rank among its sources.
STRICTNESS: tuple[Category, ...] = (
    Category.PRODUCTION_DATA,
    Category.QUALITY_DATA,
    Category.MAINTENANCE_DATA,
    Category.CUSTOMER_ORDERS,
    Category.VENDOR_TERMS,
    Category.FINANCE_PRICING,
)
PLANT_CATEGORIES: frozenset[Category] = frozenset(STRICTNESS)


def plant_category(name: str) -> Category:
    """The plant-data category called ``name``; :class:`InputError` listing the known ones."""
    try:
        category = Category(name)
    except ValueError:
        category = None
    if category is None or category not in PLANT_CATEGORIES:
        msg = (
            f"unknown plant-data category {name!r}: expected one of {', '.join(c.value for c in STRICTNESS)}"
        )
        raise InputError(msg)
    return category


def read_action(category: Category) -> Action:
    """The Cedar action that reads records of ``category`` (``<category>.read``)."""
    return Action(f"{category.value}.read")


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a record sits: the whole site (``lines is None``) or a non-empty set of lines."""

    lines: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.lines is not None and not self.lines:
            msg = "a line scope names at least one line (leave lines out for the whole site)"
            raise InputError(msg)

    @classmethod
    def site(cls) -> Scope:
        return cls(None)

    @classmethod
    def of(cls, lines: Iterable[str] | None) -> Scope:
        if lines is None:
            return cls(None)
        named = frozenset(line.strip() for line in lines if line.strip())
        return cls(named or None)

    @property
    def site_wide(self) -> bool:
        return self.lines is None

    def describe(self) -> str:
        return "site" if self.lines is None else "lines " + ", ".join(sorted(self.lines))


def narrowest(a: Scope, b: Scope) -> Scope:
    """The scope whose audience is what both ``a`` and ``b`` allow (never wider than either)."""
    if a.lines is None or b.lines is None:
        return Scope.site()
    return Scope(a.lines | b.lines)


@dataclass(frozen=True, slots=True)
class Label:
    """A category and a scope: what decides who may read a record or a value."""

    category: Category
    scope: Scope


def derived_label(sources: Iterable[Label]) -> Label:
    """The label of a value derived from ``sources``: strictest category, narrowest scope."""
    items = list(sources)
    if not items:
        msg = "a derived value needs at least one source to take its label from"
        raise InputError(msg)
    for item in items:
        if item.category not in PLANT_CATEGORIES:
            msg = f"{item.category} is not a plant-data category"
            raise InputError(msg)
    category = max((i.category for i in items), key=STRICTNESS.index)
    scope = items[0].scope
    for item in items[1:]:
        scope = narrowest(scope, item.scope)
    return Label(category, scope)
