"""``lineguard edge keys``: the node's key-encryption key (KEK) for evidence."""

from __future__ import annotations

from pathlib import Path

import click

from lineguard.cli.options import EDGE_CONFIG

__all__ = ["keys"]


@click.group("keys")
def keys() -> None:
    """Manage the node's evidence key-encryption key."""


@keys.command("rotate")
@EDGE_CONFIG
def rotate(config_path: Path) -> None:
    """Create a new KEK and re-wrap every evidence data key under it.

    Images are not re-encrypted: only their wrapped data keys change. Safe while the
    node runs (the keyring is reloaded when it changes).

    \b
    Example:
      lineguard edge keys rotate --config /etc/lineguard/edge.yaml
      KEK kek_0193... active; 1520 data keys re-wrapped
    """
    from rich.progress import Progress

    from lineguard.config import load_edge_config
    from lineguard.crypto import rewrap_all
    from lineguard.edge.evidence import EvidenceStore

    store = EvidenceStore.from_config(load_edge_config(config_path))
    try:
        new_id = store.keyring.rotate()
        with Progress(transient=True) as progress:
            task = progress.add_task("re-wrapping data keys", total=None)
            report = rewrap_all(
                store.keyring,
                store.datakeys,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        click.echo(f"KEK {new_id} active; {report.rewrapped} data keys re-wrapped")
    finally:
        store.close()
