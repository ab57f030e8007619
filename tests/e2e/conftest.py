"""Browser-test fixtures: one seeded plant server and one headless Chromium per session.

Chromium is Debian's (``/usr/bin/chromium``; ``python3 dev.py test`` installs it, never
``playwright install``). It trusts exactly the plant server's certificate, by its public
key pin, rather than ignoring certificate errors. Every request a page makes is recorded,
and a test fails if one leaves the server's origin (the dashboard must work offline) or if
the page logs an error (a Content-Security-Policy violation included).
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import Browser, Page, Playwright, Route, expect, sync_playwright

from lineguard.server.pki import ca_paths
from tests.e2e.plant import Plant, running_plant
from tests.support.gc_freeze import freeze_what_is_alive

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Chromium resolves nothing but the plant server's address: no update, autofill or
    # sign-in lookups (measured under strace: update.googleapis.com,
    # content-autofill.googleapis.com, accounts.google.com without it). docs/security.md.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


@pytest.fixture(scope="session")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    with running_plant(tmp_path_factory.mktemp("e2e") / "server") as p:
        # The started server's app, pools and caches live as long as the session, as a serving
        # process's do after start-up (tests/support/gc_freeze.py).
        freeze_what_is_alive()
        yield p


def _spki_pin(cert_file: Path) -> str:
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """One Playwright driver per test module: the sync API allows only one per thread, so
    every browser of a module (the seeded plant's, the demo's) is launched from it.

    While it lives, the main thread has a *running* asyncio loop (Playwright's), and
    ``asyncio.run()`` there fails. Module scope ends it with the module, so tests that
    run later (fuzz, integration, unit) never see it.
    """
    if not CHROMIUM.exists():
        pytest.fail(f"browser tests need Debian's chromium at {CHROMIUM} (python3 dev.py test installs it)")
    with sync_playwright() as pw:
        yield pw


def launch_chromium(playwright: Playwright, server_cert: Path) -> Browser:
    """Headless Chromium that trusts exactly ``server_cert`` (by its public key pin)."""
    pin = _spki_pin(server_cert)
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={pin}"],
    )


@pytest.fixture(scope="module")
def browser(playwright: Playwright, plant: Plant) -> Iterator[Browser]:
    browser = launch_chromium(playwright, ca_paths(plant.settings.data_dir).server_cert)
    yield browser
    browser.close()


@dataclass
class Watch:
    """What the pages of one test asked for and complained about."""

    origin: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)
    #: (status, path prefix) of refusals a test provokes on purpose (a 409 on a stale review).
    provoked: set[tuple[int, str]] = field(default_factory=set)

    def expect_refusal(self, status: int, path_prefix: str) -> None:
        self.provoked.add((status, path_prefix))

    def foreign(self) -> list[str]:
        return [u for u in self.requests if not u.startswith((self.origin + "/", "data:", "blob:"))]


#: How long a page action or an ``expect`` waits for the page (ms): as long as the demo pages'
#: waits (``UI_TIMEOUT_MS``). 15 s ran out in CI on sign-in steps (now ``SIGN_IN_STEP_MS``), and
#: at load ~30 the worker's process stood still for up to 7 s at a time (docs/testing.md, "Slow
#: sign-in steps in the browser tests").
PAGE_WAIT_MS = 30_000


@pytest.fixture
def watch(plant: Plant) -> Watch:
    return Watch(plant.url)


@pytest.fixture
def page(browser: Browser, watch: Watch) -> Iterator[Page]:
    """A fresh browser context (no cookies) at 1366×768, with requests and errors recorded."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-GB", timezone_id="UTC")
    page = context.new_page()
    page.on("request", lambda r: watch.requests.append(r.url))
    page.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.errors.append(str(e)))
    page.on("response", lambda r: watch.failures.append((r.status, r.url)) if r.status >= 400 else None)
    page.set_default_timeout(PAGE_WAIT_MS)
    # `expect(...)` has its own wait (5 s by default), separate from the page's. Under CI
    # load (two xdist workers beside a PostgreSQL cluster) a dashboard fetch has taken
    # longer than 5 s to render, so the assertions wait as long as the page actions do.
    # It is how long to wait for the page to show something, not a timing assertion.
    expect.set_options(timeout=PAGE_WAIT_MS)
    yield page
    context.close()
    assert watch.foreign() == [], "the dashboard must not reach outside the plant server"
    # A failed request is logged by the browser too; it is judged below, by its URL.
    assert [e for e in watch.errors if not e.startswith("Failed to load resource")] == []
    assert [f for f in watch.failures if not _expected_failure(*f) and not _provoked(watch, *f)] == []


def _provoked(watch: Watch, status: int, url: str) -> bool:
    path = "/" + url.split("/", 3)[-1]
    return any(status == s and path.startswith(prefix) for s, prefix in watch.provoked)


def _expected_failure(status: int, url: str) -> bool:
    # Refusals the tests provoke on purpose, and the sign-in page asking who is signed in.
    path = "/" + url.split("/", 3)[-1]
    signed_out_probe = status == 401 and path in {"/api/v1/auth/me", "/api/v1/auth/login"}
    return status == 403 or signed_out_probe


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


SIGN_IN_STEP_MS = 60_000


def open_sign_in(page: Page, url: str) -> None:
    """Open the sign-in page and wait until its start-up is done, as a person would see it.

    The page asks the server who is signed in before it takes a submit (its buttons arrive
    disabled) and then focuses the step's first field. A CI run filled the fields before that
    answer came: the focus moved and the password went into the user-name field. The page
    no longer moves a focus that is already in its form (tested in test_signin_startup.py);
    the journeys wait for the enabled button so that a keyboard Tab meets what a person meets.
    """
    page.goto(url.rstrip("/") + "/signin")
    expect(page.locator("#password-form button[type=submit]")).to_be_enabled(timeout=SIGN_IN_STEP_MS)


def wait_for_step(page: Page, step: str) -> None:
    """Wait for the sign-in's next form, or fail with what the page said instead.

    Failed CI runs timed out filling the next form while it was still hidden (the code
    form in stop 32, the password-change form in the stop after), and nothing told whether
    the step was refused or only slow: the error box is read here so a refusal names
    itself. Each step gets SIGN_IN_STEP_MS (a wait for the page, not a timing assertion):
    under CI load one answer has exceeded 15 s.
    """
    error = page.locator("#signin-error")
    shown = page.locator(f"{step}:not([hidden]), #signin-error:not([hidden])").first
    expect(shown).to_be_visible(timeout=SIGN_IN_STEP_MS)
    if error.is_visible():
        msg = f"the sign-in page refused the step: {error.inner_text()!r}"
        raise AssertionError(msg)


def wait_until_held(page: Page, held: list[Route], what: str) -> Route:
    """Wait (up to SIGN_IN_STEP_MS) until ``page.route`` has held the first request of ``what``.

    The tests that hold an answer back (a slow server, as a person meets one) need the page
    to have asked first; Playwright hands the request to the route's handler only while
    it is waited on, hence the short waits in the loop.
    """
    deadline = time.monotonic() + SIGN_IN_STEP_MS / 1000
    while not held:
        assert time.monotonic() < deadline, f"the page never asked for {what}"
        page.wait_for_timeout(50)  # lets Playwright dispatch the route to the handler
    return held[0]


def wait_until_answered(page: Page, url: str) -> None:
    """Wait until the page has the whole answer to ``url`` and has made one more round trip.

    For a late answer the page must drop: dropped, it changes nothing, so there is nothing
    to wait for on the page. Its resource timing entry ends when the body has arrived; the
    page's own fetch after it (tasks queued behind the answer's) gives the page the time to
    act on it before the test looks.
    """
    page.wait_for_function(
        "url => performance.getEntriesByName(url).some((entry) => entry.responseEnd > 0)",
        arg=url,
        timeout=PAGE_WAIT_MS,
    )
    page.evaluate(
        """async () => {
            await (await fetch("/api/v1/auth/me", { cache: "no-store" })).text();
            await new Promise((resolve) => setTimeout(resolve, 0));
        }"""
    )
