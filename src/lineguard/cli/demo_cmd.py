"""``lineguard demo``: a plant server and one edge node on loopback, fed by a synthetic line.

The demo runs the real processes (``lineguard server`` and ``lineguard edge run``) as
children, after preparing their state with the real set-up commands (see
:mod:`lineguard.cli.demo_setup`). Ctrl-C (or ``--for-seconds``) stops both cleanly;
a second run reuses the state directory.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from urllib.parse import quote

import click

from lineguard.cli.demo_feeder import StationFeeder
from lineguard.cli.demo_setup import (
    DemoLayout,
    demo_env,
    fresh_admin_password,
    prepare,
    run_cli,
    truth_summary,
    walkway_words,
)
from lineguard.cli.demo_stations import StationLayout, thermal_learn_s
from lineguard.contracts.errors import LineGuardError

__all__ = ["demo", "should_open_browser"]

READY_TIMEOUT_S = 90.0
#: How often the demo prints its part verdicts scored against the line's ground truth.
TRUTH_EVERY_S = 120.0


#: What the stations are, said once the node starts (lineguard.cli.demo_stations).
STATIONS_SAID = (
    "stations: a bracket gauged every 3 s (st-20-gauge), a label checked every 4 s (st-30-label), "
    "a motor under a thermal camera (st-40-motor; time-compressed: it learns its band in "
    "{learn_min:g} min, then heats 3 °C a minute for 5 min every 6 min, so a thermal_maintenance item "
    "appears after about {item_min:g} min), and a walkway where PPE is counted (st-50-walkway; "
    "generated people; enabled for the demo only; counts per zone and hour, so an hour shows on "
    "/ppe once it is over or the demo stopped)"
)


class DemoError(LineGuardError):
    code = "demo_failed"


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    try:
        return subprocess.Popen(  # noqa: S603 - our own CLI with arguments we built
            [sys.executable, "-m", "lineguard.cli", *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=demo_env(),
        )
    finally:
        handle.close()  # the child has its own copy of the descriptor


def _wait_for_https(layout: DemoLayout, server: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the server completes a TLS handshake with a certificate from the demo CA."""
    context = ssl.create_default_context(cafile=str(layout.server_dir / "ca" / "ca.crt.pem"))
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            msg = f"the server exited with code {server.returncode}; see {log}"
            raise DemoError(msg)
        try:
            with (
                socket.create_connection(("127.0.0.1", layout.port), timeout=1) as raw,
                context.wrap_socket(raw, server_hostname="127.0.0.1"),
            ):
                return
        except OSError:
            time.sleep(0.3)
    msg = f"the server did not answer on port {layout.port} within {READY_TIMEOUT_S:.0f} s; see {log}"
    raise DemoError(msg)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in reversed(processes):  # edge first: it flushes its outbox to the server
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def should_open_browser(
    *, no_browser: bool, interactive: bool, environ: Mapping[str, str], platform: str
) -> bool:
    """Open the dashboard only for a person at a terminal with a display.

    Never with ``--no-browser``, never when stdout is not a terminal (CI, a pipe, a
    service), and on Linux and other Unixes only when a display is set (X11 or Wayland);
    macOS and Windows always have one.
    """
    if no_browser or not interactive:
        return False
    if platform == "darwin" or platform.startswith(("win32", "cygwin")):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def _open_browser(url: str, say: Callable[[str], None]) -> None:
    import webbrowser

    try:
        opened = webbrowser.open(url, new=2)
    except webbrowser.Error:
        opened = False
    say(f"opened {url} in your browser" if opened else f"could not start a browser; open {url}")


def _say_truth(
    layout: DemoLayout,
    since: float,
    say: Callable[[str], None],
    stations: dict[str, str | None] | None = None,
) -> None:
    """Print the run's part verdicts scored against the synthetic line's ground truth (and the
    stations' against what they were fed), then the walkway's PPE counts beside what it was fed.
    A printout must never end the demo (a busy database, a bad file): a failure is said instead."""
    try:
        summary = truth_summary(layout, since=since, stations=stations)
        say(f"against the line's ground truth: {summary or 'no part judged yet'}")
    except Exception as error:
        say(f"ground truth: not scored this time ({type(error).__name__}: {error})")
    try:
        say(f"walkway (PPE counts, fed / counted): {walkway_words(layout)}")
    except Exception as error:
        say(f"walkway: not scored this time ({type(error).__name__}: {error})")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".lineguard-demo"),
    show_default=True,
    help="Where the demo keeps its state; a second run reuses it.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8443, show_default=True, help="HTTPS port.")
@click.option(
    "--for-seconds", type=click.FloatRange(min=1), default=None, help="Stop by itself after this long."
)
@click.option(
    "--no-browser",
    is_flag=True,
    help="Do not open the dashboard in a browser (it opens only at a terminal with a display anyway).",
)
def demo(data_dir: Path, port: int, for_seconds: float | None, no_browser: bool) -> None:
    """Run a plant server and one edge node on loopback, fed by a synthetic production line.

    Parts travel on a conveyor, some with scratches, dents, contamination or missing
    holes, and now and then a person walks through the frame (blurred before any
    evidence is stored). Beside the line three stations: a bracket whose holes are
    measured (a signed calibration made at every start), a label that is now and then
    wrong, a motor under a thermal camera that heats up (time-compressed), and a walkway
    of generated workers where PPE is counted per zone and hour (enabled for the demo only).
    Prints the dashboard URL and a one-time admin credential, and opens the sign-in
    page in a browser when run at a terminal with a display (not with --no-browser).
    Ctrl-C stops everything cleanly. Needs no network and no files outside
    DATA_DIR.

    \b
    Example:
      lineguard demo
      lineguard demo --port 9443 --data-dir /tmp/lg-demo --for-seconds 60 --no-browser
    """
    layout = DemoLayout(data_dir.resolve(), port)
    if not _port_free(port):
        msg = f"port {port} on 127.0.0.1 is in use; choose another with --port"
        raise DemoError(msg)

    def say(text: str) -> None:
        click.echo(f"[demo] {text}")

    say(f"state directory: {layout.root}")
    token = prepare(layout, say)
    logs = layout.root / "logs"
    logs.mkdir(exist_ok=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    processes: list[subprocess.Popen[bytes]] = []
    feeder: StationFeeder | None = None
    started = time.time()
    try:
        say("starting the plant server ...")
        processes.append(_start(["server", "--config", str(layout.server_config)], logs / "server.log"))
        _wait_for_https(layout, processes[0], logs / "server.log")
        if token is not None:
            say("enrolling the edge node (its key never leaves it) ...")
            run_cli(
                "edge",
                "enroll",
                "--server",
                layout.url.rstrip("/"),
                "--token",
                token,
                "--data-dir",
                str(layout.edge_dir),
                log=layout.root / "setup.log",
            )
        say("starting the edge node on the synthetic line and its stations ...")
        processes.append(_start(["edge", "run", "--config", str(layout.edge_config)], logs / "edge.log"))
        feeder = StationFeeder(StationLayout(layout.root), stop, say)
        feeder.start()
        learn_min = thermal_learn_s() / 60
        say(STATIONS_SAID.format(learn_min=learn_min, item_min=learn_min + 3))
        password = fresh_admin_password(layout, layout.root / "setup.log")
        click.echo("")
        click.echo(f"  Dashboard:       {layout.url}")
        click.echo(f"  Sign in as:      demo.admin / {password}   (one-time: you will choose a new one)")
        click.echo(f"  Other roles:     {layout.accounts_file}")
        click.echo(f"  Trust this CA:   {layout.server_dir / 'ca' / 'ca.crt.pem'}")
        click.echo(f"  Logs:            {logs}")
        click.echo("  Stop with Ctrl-C.")
        click.echo("")
        interactive = sys.stdout.isatty()
        if should_open_browser(
            no_browser=no_browser, interactive=interactive, environ=os.environ, platform=sys.platform
        ):
            _open_browser(f"{layout.url}signin?next={quote('/overview', safe='')}", say)
        deadline = None if for_seconds is None else time.monotonic() + for_seconds
        next_truth = time.monotonic() + TRUTH_EVERY_S
        while not stop.is_set():
            if time.monotonic() >= next_truth:
                next_truth = time.monotonic() + TRUTH_EVERY_S
                _say_truth(layout, started, say, dict(feeder.truth))
            for process, name in zip(processes, ("server", "edge node"), strict=True):
                if process.poll() is not None:
                    msg = f"the {name} exited with code {process.returncode}; see {logs}"
                    raise DemoError(msg)
            if deadline is not None and time.monotonic() >= deadline:
                break
            stop.wait(0.5)
    finally:
        say("stopping ...")
        stop.set()  # the station feeder too
        _stop(processes)
    if processes:
        _say_truth(layout, started, say, None if feeder is None else dict(feeder.truth))
    say("stopped cleanly; run `lineguard demo` again to continue where you left off.")
