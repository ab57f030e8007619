"""`lineguard demo` opens the dashboard only for a person at a terminal with a display."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from lineguard.cli.demo_cmd import demo, should_open_browser

DISPLAY = {"DISPLAY": ":0"}


@pytest.mark.parametrize(
    ("no_browser", "interactive", "environ", "platform", "opens"),
    [
        (False, True, DISPLAY, "linux", True),
        (False, True, {"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
        (False, True, {}, "linux", False),  # ssh session, no display
        (False, True, {"DISPLAY": ""}, "linux", False),
        (False, False, DISPLAY, "linux", False),  # CI, a pipe, a service
        (True, True, DISPLAY, "linux", False),  # --no-browser
        (False, True, {}, "darwin", True),
        (False, True, {}, "win32", True),
        (False, False, {}, "darwin", False),
        (True, True, {}, "win32", False),
    ],
)
def test_the_decision(
    no_browser: bool, interactive: bool, environ: dict[str, str], platform: str, opens: bool
) -> None:
    assert (
        should_open_browser(
            no_browser=no_browser, interactive=interactive, environ=environ, platform=platform
        )
        is opens
    )


def test_the_flag_is_documented() -> None:
    out = CliRunner().invoke(demo, ["--help"]).output
    assert "--no-browser" in out
