"""The sign-in page's start-up must not take the keyboard from a person already typing.

The page asks the server who is signed in (``/auth/me``) and then focuses the step's first
field. When that answer came late, the focus jumped back to "User name" while the password
was being typed, and the rest of the password landed in the user-name field (a CI run
caught it: "pia.supervisorcorrect horse battery staple"). Here the answer is held back by
the browser until the person has typed, then released.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.conftest import SIGN_IN_STEP_MS, wait_until_held
from tests.e2e.plant import Plant

pytestmark = pytest.mark.browser


ASKED = "who is signed in (/auth/me)"


def test_a_late_start_up_answer_leaves_the_focus_in_the_password(page: Page, plant: Plant) -> None:
    held: list[Route] = []
    page.route("**/api/v1/auth/me", lambda route: held.append(route))
    page.goto(plant.url + "/signin")
    start_up = wait_until_held(page, held, ASKED)
    submit = page.get_by_role("button", name="Sign in")
    expect(submit).to_be_disabled()  # no submit before the page knows the session's state
    page.get_by_label("User name", exact=True).fill("pia.supervisor")
    password = page.get_by_label("Password", exact=True)
    password.fill("correct horse ")
    start_up.continue_()
    expect(submit).to_be_enabled(timeout=SIGN_IN_STEP_MS)
    page.keyboard.type("battery staple")
    expect(password).to_be_focused()
    expect(page.get_by_label("User name", exact=True)).to_have_value("pia.supervisor")
    expect(password).to_have_value("correct horse battery staple")


def test_an_untouched_page_still_focuses_the_user_name_after_start_up(page: Page, plant: Plant) -> None:
    held: list[Route] = []
    page.route("**/api/v1/auth/me", lambda route: held.append(route))
    page.goto(plant.url + "/signin")
    start_up = wait_until_held(page, held, ASKED)
    page.evaluate("document.activeElement.blur()")
    start_up.continue_()
    expect(page.get_by_role("button", name="Sign in")).to_be_enabled(timeout=SIGN_IN_STEP_MS)
    expect(page.get_by_label("User name", exact=True)).to_be_focused()
