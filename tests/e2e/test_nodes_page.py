"""The node health page draws its table anew every 15 s: a person on a node's button with the
keyboard must still be on it afterwards (the redraw used to drop the focus to the page)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from lineguard.server.auth.catalog import Role
from tests.e2e.plant import Plant, add_person
from tests.e2e.test_journeys import sign_in

pytestmark = pytest.mark.browser

REVOKE = '#nodes button[aria-label="Revoke node edge-l1"]'


def test_the_refresh_keeps_the_keyboard_on_the_button_it_was_on(page: Page, plant: Plant) -> None:
    add_person(plant, "nadia.nodes", (Role.IT_ADMINISTRATOR,))
    sign_in(page, plant, "nadia.nodes")
    page.clock.install()  # the page's 15 s timer runs when the test says, not when the machine does
    page.goto(plant.url + "/nodes")
    first = page.locator(REVOKE)
    expect(first).to_be_visible()
    first.focus()
    first.evaluate("button => { button.dataset.drawn = 'before'; }")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/dashboard/nodes")):
        page.clock.run_for(16_000)
    redrawn = page.locator(f"{REVOKE}:not([data-drawn])")
    expect(redrawn).to_be_visible()
    expect(redrawn).to_be_focused()
