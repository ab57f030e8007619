"""The Ask page in headless Chromium against a real server over HTTPS: a production
supervisor and a finance controller ask the same question and get different answers —
the supervisor's production workflow refuses order values, the finance controller's
sales update answers with citations — each under a scope banner, the workflow picker
listing only their own workflows. Screenshots go to ``artifacts/screenshots/``."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from lineguard.server.auth.catalog import Role
from lineguard.server.plantdata import import_records
from tests.e2e.conftest import screenshot
from tests.e2e.plant import Plant, add_person
from tests.e2e.test_journeys import sign_in
from tests.support.plant import seed_plant
from tests.unit.server.conftest import AuditTrail

pytestmark = pytest.mark.browser

QUESTION = "What is the total order value?"


@pytest.fixture(scope="module")
def plant_data(plant: Plant) -> Plant:
    context = plant.context
    import_records(context.sessions, site_id=plant.settings.site_id, records=seed_plant().records,
                   sealer=context.sealer, actor="cli:e2e", audit=AuditTrail())  # fmt: skip
    add_person(plant, "pia.supervisor", (Role.PRODUCTION_SUPERVISOR,))
    add_person(plant, "finn.finance", (Role.FINANCE_CONTROLLER,))
    return plant


def ask(page: Page, workflow_title: str, question: str) -> None:
    page.get_by_label("Workflow").select_option(label=workflow_title)
    page.get_by_label("Question", exact=True).fill(question)
    page.get_by_role("button", name="Ask").click()


def test_a_production_supervisor_is_refused_order_values_in_the_production_workflow(
    page: Page, plant_data: Plant
) -> None:
    sign_in(page, plant_data, "pia.supervisor")
    page.goto(plant_data.url + "/ask")
    expect(page.locator("#ask-workflow option")).to_have_text(
        [
            "Production assistant",
            "Quality assistant",
            "Maintenance planner",
            "Sales update (orders, no vendor costing)",
        ]
    )
    ask(page, "Production assistant", QUESTION)
    expect(page.locator("#ask-answer")).to_contain_text(
        "I can't answer that from the data this workflow lets you use."
    )
    expect(page.locator("#ask-scope")).to_contain_text("Production assistant workflow")
    expect(page.locator("#ask-citations li")).to_have_count(0)
    ask(page, "Production assistant", "How many production orders are there on line 2?")
    expect(page.locator("#ask-answer")).to_contain_text("There are 20 production orders on line-2.")
    expect(page.locator("#ask-citations li")).to_have_count(5)
    screenshot(page, "ask-production-supervisor")


def test_a_finance_controller_gets_the_order_value_with_citations(page: Page, plant_data: Plant) -> None:
    sign_in(page, plant_data, "finn.finance")
    page.goto(plant_data.url + "/ask")
    expect(page.locator("#ask-workflow option")).to_have_text(
        ["Sales update (orders, no vendor costing)", "Finance review"]
    )
    ask(page, "Sales update (orders, no vendor costing)", QUESTION)
    expect(page.locator("#ask-answer")).to_contain_text("The total order value of sales orders is ")
    expect(page.locator("#ask-scope")).to_contain_text("customer-order data (all lines and the site)")
    expect(page.locator("#ask-citations li")).to_have_count(5)
    expect(page.locator("#ask-citations li").first).to_contain_text("sales order SO-")
    screenshot(page, "ask-finance-controller")
