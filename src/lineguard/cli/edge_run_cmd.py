"""``lineguard edge run``: run one edge node until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from types import FrameType

import click

from lineguard.cli.options import EDGE_CONFIG

__all__ = ["run"]


@click.command("run")
@EDGE_CONFIG
@click.option(
    "--for-seconds",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Stop by itself after this long (demos, soak tests).",
)
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True
)
def run(config_path: Path, for_seconds: float | None, log_level: str) -> None:
    """Run the edge node described by an edge config: every camera, the outbox, metrics.

    Stops cleanly on SIGTERM / Ctrl-C: every worker finishes its frame, the outbox is
    durable throughout. The KEK passphrase comes from the secret the config names.

    \b
    Example:
      export LINEGUARD_EDGE_KEK_PASSPHRASE=...   # or a secrets file named in edge.yaml
      lineguard edge run --config /etc/lineguard/edge.yaml
      lineguard edge status --config /etc/lineguard/edge.yaml
    """
    from lineguard.config import load_edge_config
    from lineguard.edge.app import EdgeNode

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One line per upload request drowns the node's own messages; failures still show.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    config = load_edge_config(config_path)
    node = EdgeNode(config)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("lineguard.edge").info("signal %d: stopping", signum)
        node.stop_event.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    node.start()
    click.echo(f"edge node {config.node.node_id}: {len(config.cameras)} camera(s) running", err=True)
    try:
        node.wait(for_seconds)
    finally:
        node.close()
