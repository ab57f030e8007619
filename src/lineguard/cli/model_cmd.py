"""``lineguard model``: train, evaluate, sign and verify detection model packages.

Training and evaluation import the vision stack (torch, onnxruntime) only when run, so
``lineguard --help`` stays fast and the edge node never pays for them. ``sign`` and
``verify`` live in :mod:`lineguard.cli.model_sign_cmd` and are loaded the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from lineguard.cli.main import LazyGroup

__all__ = ["model"]

F = TypeVar("F", bound=Callable[..., Any])


@click.group(
    cls=LazyGroup,
    lazy_commands={
        "sign": ("lineguard.cli.model_sign_cmd", "sign"),
        "verify": ("lineguard.cli.model_sign_cmd", "verify"),
    },
)
def model() -> None:
    """Train, evaluate, sign and verify detection model packages."""


@contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
    """A rich progress display fed by the engine's (stage, done, total) callbacks."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    tasks: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def _folder(flag: str, dest: str, help_text: str) -> Callable[[F], F]:
    """A required directory option."""
    return click.option(
        flag, dest, required=True, type=click.Path(path_type=Path, file_okay=False), help=help_text
    )


@model.command("train")
@_folder(
    "--data",
    "data_dir",
    "Dataset folder in MVTec AD layout; learns from DATA/train/good (and DATA/train/<defect> as classes).",
)
@_folder("--out", "out_dir", "Package folder to write (model.onnx + metadata.json).")
@click.option(
    "--backbone",
    default="mobilenet-v2",
    show_default=True,
    help="mobilenet-v2, efficientnet-lite0, or a path to your own ONNX feature extractor.",
)
@click.option(
    "--image-size", type=int, default=256, show_default=True, help="Model input side (multiple of 128)."
)
@click.option(
    "--target-frr",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="At most this false-reject rate on held-out good images (labelled defects then only "
    "measure the recall it buys). Default: 0.01, or with DATA/validation/<defect> the best F1 "
    "within 0.05.",
)
@click.option(
    "--min-recall",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="Instead: the recall the threshold must reach on labelled defects (DATA/validation/<defect>).",
)
@click.option("--threads", type=int, default=None, help="CPU threads for training (default: all).")
@click.option("--model-id", default=None, help="Package id (default: dataset folder name + UTC time).")
@click.option("--overwrite", is_flag=True, help="Replace an existing package at --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the package metadata as JSON, no progress bars.")
def train(
    data_dir: Path,
    out_dir: Path,
    backbone: str,
    image_size: int,
    target_frr: float | None,
    min_recall: float | None,
    threads: int | None,
    model_id: str | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Learn what good parts look like and write a model package.

    Only defect-free images are needed (DATA/train/good). A share of them is held out
    to calibrate the threshold; DATA/validation/{good,<defect>} is used instead when
    present, and labelled defects there tune the threshold.

    Named defect classes: folders DATA/train/<defect> (a few labelled images per
    type, e.g. train/crack, train/blowhole) are picked up automatically; regions
    are then named after the nearest type, or "unknown_anomaly" when unlike all
    of them. Folder names become class names (lower-cased; letters, digits, '_'
    and '-' only). Without such folders every region is "anomaly".

    \b
    Example:
      lineguard model train --data datasets/bracket --out models/bracket-v1
      lineguard model eval --model models/bracket-v1 --data datasets/bracket
    """
    from lineguard.vision.calibration import describe_operating_point
    from lineguard.vision.train import TrainConfig, train_package

    config = TrainConfig(
        backbone=backbone,
        image_size=image_size,
        target_frr=target_frr,
        min_recall=min_recall,
        threads=threads,
        model_id=model_id,
    )
    with _progress(not as_json) as progress:
        result = train_package(data_dir, out_dir, config=config, progress=progress, overwrite=overwrite)
    meta = result.package.metadata
    if as_json:
        click.echo(meta.model_dump_json(indent=2))
        return
    click.echo(
        f"{out_dir}: {meta.model_id} trained on {meta.training_data.image_count} images "
        f"in {result.seconds:.1f} s; "
        f"threshold {meta.threshold.value:.4g} ({meta.threshold.note}); "
        f"ONNX parity max |diff| {meta.evaluation.parity_max_abs_diff:.1e}"
    )
    click.echo(f"operating point: {describe_operating_point(meta.threshold)}")


@model.command("eval")
@_folder("--model", "model_dir", "Model package folder.")
@_folder(
    "--data", "data_dir", "Dataset folder with test/good, test/<defect_type> and optional ground_truth masks."
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="HTML report to write (default: ./<model_id>-eval.html; figures also as .json beside it).",
)
@click.option(
    "--providers",
    default=None,
    help="Comma-separated execution providers, e.g. cuda,cpu (default: best available).",
)
@click.option("--threads", type=int, default=None, help="onnxruntime intra-op threads (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON, no progress bars.")
def evaluate(
    model_dir: Path,
    data_dir: Path,
    report_path: Path | None,
    providers: str | None,
    threads: int | None,
    as_json: bool,
) -> None:
    """Measure a package on a labelled test set, exactly as the edge node runs it.

    Reports image AUROC, pixel AUROC (where masks exist), recall at 1% false-reject
    rate, precision / recall / F1 at the package threshold, the same per defect type,
    and latency median / p99; writes an HTML report with the ROC curve and heat maps.

    \b
    Example:
      lineguard model eval --model models/bracket-v1 --data datasets/bracket --json
    """
    from lineguard.vision.evaluate import evaluate_package
    from lineguard.vision.report import write_report

    chosen = [p.strip() for p in providers.split(",") if p.strip()] if providers else None
    with _progress(not as_json) as progress:
        report = evaluate_package(model_dir, data_dir, providers=chosen, threads=threads, progress=progress)
    path = write_report(report, report_path or Path(f"{report.model_id}-eval.html"))
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "report": str(path)}, indent=2, default=str))
        return
    t = report.at_threshold
    pixel = "n/a" if report.pixel_auroc is None else f"{report.pixel_auroc:.4f}"
    pro = "n/a" if report.aupro is None else f"{report.aupro:.4f}"
    click.echo(
        f"{report.model_id} on {report.good_count} good / {report.defect_count} defective images\n"
        f"  image AUROC {report.image_auroc:.4f}   pixel AUROC {pixel}   AUPRO {pro}   "
        f"recall@1%FRR {report.recall_at_1pct_frr:.3f}\n"
        f"  at threshold {report.threshold:.4g}: precision {t.precision:.3f} recall {t.recall:.3f} "
        f"F1 {t.f1:.3f} FRR {t.frr:.3f}\n"
        f"  latency median {report.latency_ms_median:.1f} ms, p99 {report.latency_ms_p99:.1f} ms "
        f"({', '.join(report.providers)})"
    )
    for m in report.per_type:
        px = "" if m.pixel_auroc is None else f"  pixel AUROC {m.pixel_auroc:.4f}"
        px += "" if m.aupro is None else f"  AUPRO {m.aupro:.4f}"
        click.echo(
            f"  {m.defect_type:<16} n={m.count:<4} image AUROC {m.image_auroc:.4f}{px}  "
            f"recall {m.recall_at_threshold:.3f}"
        )
    click.echo(f"report: {path}")
