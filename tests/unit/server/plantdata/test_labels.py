"""Labels: scopes never widen, derived values take the strictest label of their sources."""

from __future__ import annotations

import pytest

from lineguard.contracts.errors import InputError
from lineguard.server.auth import Category
from lineguard.server.plantdata import Label, Scope, derived_label, narrowest, plant_category


def test_narrowest_keeps_site_and_unions_lines() -> None:
    one, two = Scope.of(["line-1"]), Scope.of(["line-2"])
    assert narrowest(Scope.site(), one) == Scope.site()
    assert narrowest(one, Scope.site()) == Scope.site()
    assert narrowest(one, two) == Scope.of(["line-1", "line-2"])
    assert narrowest(one, one) == one


def test_a_scrap_cost_from_quality_counts_and_unit_prices_is_finance_level() -> None:
    scrap = Label(Category.QUALITY_DATA, Scope.of(["line-1"]))
    price = Label(Category.FINANCE_PRICING, Scope.site())
    assert derived_label([scrap, price]) == Label(Category.FINANCE_PRICING, Scope.site())


def test_a_derived_value_takes_the_narrowest_scope_and_strictest_category() -> None:
    produced = Label(Category.PRODUCTION_DATA, Scope.of(["line-1"]))
    downtime = Label(Category.MAINTENANCE_DATA, Scope.of(["line-2"]))
    assert derived_label([produced, downtime]) == Label(
        Category.MAINTENANCE_DATA, Scope.of(["line-1", "line-2"])
    )
    orders = Label(Category.CUSTOMER_ORDERS, Scope.site())
    terms = Label(Category.VENDOR_TERMS, Scope.site())
    assert derived_label([terms, orders]).category is Category.VENDOR_TERMS


def test_derived_label_refuses_no_sources_and_non_plant_categories() -> None:
    with pytest.raises(InputError, match="at least one source"):
        derived_label([])
    with pytest.raises(InputError, match="not a plant-data category"):
        derived_label([Label(Category.AUDIT_LOG, Scope.site())])


def test_unknown_category_names_the_known_ones() -> None:
    with pytest.raises(InputError, match="expected one of production_data"):
        plant_category("payroll")
    with pytest.raises(InputError, match="unknown plant-data category 'audit_log'"):
        plant_category("audit_log")
    assert plant_category("vendor_terms") is Category.VENDOR_TERMS


def test_an_empty_line_scope_is_refused() -> None:
    with pytest.raises(InputError, match="at least one line"):
        Scope(frozenset())
    assert Scope.of([" ", ""]) == Scope.site()
