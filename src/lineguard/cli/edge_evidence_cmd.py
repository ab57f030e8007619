"""``lineguard edge evidence``: list, verify and export the node's evidence images, and lay reviewed
ones out as training data on the node."""

from __future__ import annotations

from pathlib import Path

import click

from lineguard.cli.options import EDGE_CONFIG
from lineguard.contracts.errors import InputError

__all__ = ["evidence"]


@click.group("evidence")
def evidence() -> None:
    """Encrypted evidence images kept on this node."""


@evidence.command("list")
@EDGE_CONFIG
def list_(config_path: Path) -> None:
    """List evidence objects: id, category, camera, capture time, retention.

    \b
    Example:
      lineguard edge evidence list --config /etc/lineguard/edge.yaml
    """
    from datetime import UTC, datetime

    from lineguard.config import load_edge_config
    from lineguard.edge.evidence import EvidenceStore

    store = EvidenceStore.from_config(load_edge_config(config_path))
    try:
        for r in store.records():
            expires = datetime.fromtimestamp(r.expires_at, UTC).date().isoformat()
            click.echo(f"{r.evidence_id}  {r.category:<9} {r.camera_id:<12} {r.captured_at}  until {expires}")
    finally:
        store.close()


@evidence.command("verify")
@EDGE_CONFIG
@click.argument("evidence_ids", nargs=-1)
def verify(config_path: Path, evidence_ids: tuple[str, ...]) -> None:
    """Prove evidence is what the node captured: decrypt, re-hash, check the signature.

    With no ids, every object is checked. Any mismatch is an error naming the object
    and what was expected.

    \b
    Example:
      lineguard edge evidence verify --config /etc/lineguard/edge.yaml
      1520 evidence objects verified (signed by key 5f1c..., ecdsa-p256-sha256)
    """
    from rich.progress import track

    from lineguard.config import load_edge_config
    from lineguard.edge.evidence import EvidenceStore

    store = EvidenceStore.from_config(load_edge_config(config_path))
    try:
        ids = list(evidence_ids) or [r.evidence_id for r in store.records()]
        signers = set()
        for evidence_id in track(ids, description="verifying", transient=True):
            signers.add(store.verify(evidence_id).signer_key_id)
        click.echo(
            f"{len(ids)} evidence objects verified (signed by {', '.join(sorted(signers)) or 'nobody'})"
        )
    finally:
        store.close()


@evidence.command("export")
@EDGE_CONFIG
@click.argument("evidence_id")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the decrypted JPEG (must not exist).",
)
def export(config_path: Path, evidence_id: str, out_path: Path) -> None:
    """Decrypt one verified evidence image (already redacted) to a JPEG file.

    \b
    Example:
      lineguard edge evidence export --config edge.yaml evd_0193... --out part.jpg
    """
    from lineguard.config import load_edge_config
    from lineguard.edge.evidence import EvidenceStore

    if out_path.exists():
        msg = f"{out_path} exists; choose a new file name"
        raise InputError(msg)
    store = EvidenceStore.from_config(load_edge_config(config_path))
    try:
        content = store.read(evidence_id)
    finally:
        store.close()
    out_path.write_bytes(content)
    out_path.chmod(0o600)
    click.echo(f"{evidence_id}: verified, written to {out_path} ({len(content)} bytes)")


@evidence.command("training-set")
@EDGE_CONFIG
@click.option(
    "--labels",
    "labels_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The server's label export (GET /api/v1/reviews/<kind>/labels, saved as JSON).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Dataset folder to add to (train/good, validation/<class>); files already there are kept.",
)
def training_set(config_path: Path, labels_path: Path, out_dir: Path) -> None:
    """Lay reviewed parts out as training data, on this node: the images never leave it.

    Confirmed defects go to OUT/validation/<class> (they choose the few-shot fusion and
    calibrate the threshold when you train on OUT), false calls and confirmed passes to
    OUT/train/good. Each image is the camera's ROI cut from the verified evidence; events
    without usable evidence are listed with the reason.

    \b
    Example:
      curl -H "Authorization: Bearer $TOKEN" https://server/api/v1/reviews/alert/labels > labels.json
      lineguard edge evidence training-set --config edge.yaml --labels labels.json --out datasets/bracket
      lineguard model train --data datasets/bracket --out models/bracket-v2
    """
    from lineguard.config import load_edge_config
    from lineguard.edge.evidence import EvidenceStore
    from lineguard.edge.evidence.trainingset import assemble, read_labels

    labels = read_labels(labels_path)
    config = load_edge_config(config_path)
    store = EvidenceStore.from_config(config)
    try:
        result = assemble(store, labels, {c.camera_id: c.roi for c in config.cameras}, out_dir)
    finally:
        store.close()
    written = ", ".join(f"{n} to {folder}" for folder, n in sorted(result.written.items())) or "nothing new"
    click.echo(f"{len(labels)} labels: {written}; {result.already_there} already there")
    for reason, n in sorted(result.reasons().items()):
        click.echo(f"  skipped {n}: {reason}")
