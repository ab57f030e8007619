"""The evaluation report: one self-contained HTML file (inline SVG ROC curve, PNG heat maps).

No plotting library: the ROC curve is a hand-written SVG polyline and the heat maps
are OpenCV colour maps blended over the input image, PNG-encoded into data URIs, with
the regions the edge node would report drawn as boxes.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import cv2
import numpy as np

from lineguard.vision.evaluate import EvalReport, ImageResult
from lineguard.vision.preprocess import read_image
from lineguard.vision.regions import regions_from_map

__all__ = ["roc_svg", "write_report"]


def roc_svg(fpr: list[float], tpr: list[float], *, size: int = 320) -> str:
    pad = 36
    inner = size - 2 * pad

    def xy(x: float, y: float) -> str:
        return f"{pad + x * inner:.1f},{pad + (1 - y) * inner:.1f}"

    points = " ".join(xy(x, y) for x, y in zip(fpr, tpr, strict=True))
    label = '<text x="{x:.0f}" y="{y:.0f}" font-size="10" text-anchor="{anchor}">{t:g}</text>'
    ticks = "".join(
        label.format(x=pad + t * inner, y=size - pad + 16, anchor="middle", t=t)
        + label.format(x=pad - 6, y=pad + (1 - t) * inner + 3, anchor="end", t=t)
        for t in (0, 0.25, 0.5, 0.75, 1)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img" '
        f'aria-label="ROC curve">'
        f'<rect x="{pad}" y="{pad}" width="{inner}" height="{inner}" fill="none" stroke="#999"/>'
        f'<line x1="{pad}" y1="{pad + inner}" x2="{pad + inner}" y2="{pad}" '
        f'stroke="#ccc" stroke-dasharray="4"/>'
        f'<polyline points="{points}" fill="none" stroke="#1565c0" stroke-width="2"/>{ticks}'
        f'<text x="{size / 2}" y="{size - 4}" font-size="11" text-anchor="middle">false-reject rate</text>'
        f'<text x="10" y="{size / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 10 {size / 2})">defect recall</text></svg>'
    )


def _heatmap_png(result: ImageResult, region_threshold: float, lo: float, hi: float) -> str:
    h, w = result.anomaly_map.shape
    image = cv2.resize(read_image(result.path), (w, h), interpolation=cv2.INTER_AREA)
    hi = max(hi, float(result.anomaly_map.max()))  # far-off parts: still show where the peak is
    scaled = np.clip((result.anomaly_map - lo) / max(hi - lo, 1e-6), 0, 1)
    colour = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_JET)
    blend = cv2.addWeighted(image, 0.55, colour, 0.45, 0)
    for region in regions_from_map(
        result.anomaly_map, pixel_threshold=region_threshold, out_width=w, out_height=h
    ):
        b = region.bbox
        cv2.rectangle(blend, (b.x, b.y), (b.x + b.width - 1, b.y + b.height - 1), (255, 255, 255), 1)
    if result.mask is not None and result.mask.any():
        contours, _ = cv2.findContours(
            result.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
        )
        cv2.drawContours(blend, contours, -1, (0, 255, 0), 1)
    ok, png = cv2.imencode(".png", np.concatenate([image, blend], axis=1))
    return base64.b64encode(png.tobytes()).decode() if ok else ""


def _examples(report: EvalReport, per_group: int) -> list[tuple[str, ImageResult]]:
    goods = sorted((r for r in report.results if r.label == "good"), key=lambda r: -r.score)
    defects = sorted((r for r in report.results if r.label != "good"), key=lambda r: -r.score)
    best_per_type: dict[str, ImageResult] = {}
    for r in defects:
        best_per_type.setdefault(r.label, r)
    picked = [("highest-scoring of its type", r) for r in best_per_type.values()]
    picked += [("lowest-scoring defect", r) for r in defects[::-1][:per_group]]
    picked += [("highest-scoring good part", r) for r in goods[:per_group]]
    return picked


def write_report(report: EvalReport, path: Path | str, *, examples_per_group: int = 3) -> Path:
    """Write the HTML report to ``path`` and its figures as JSON beside it (same stem, ``.json``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = report.to_dict()
    path.with_suffix(".json").write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    goods = [r.anomaly_map for r in report.results if r.label == "good"]
    lo = float(np.percentile(np.concatenate([g.ravel() for g in goods]), 5)) if goods else 0.0
    hi = max(report.threshold, lo + 1e-6) * 1.0
    hi = hi + (hi - lo)  # threshold sits in the middle of the colour scale
    rows = "".join(
        f"<tr><td>{html.escape(t.defect_type)}</td><td>{t.count}</td><td>{t.image_auroc:.4f}</td>"
        f"<td>{'' if t.pixel_auroc is None else f'{t.pixel_auroc:.4f}'}</td>"
        f"<td>{'' if t.aupro is None else f'{t.aupro:.4f}'}</td>"
        f"<td>{t.recall_at_threshold:.3f}</td></tr>"
        for t in report.per_type
    )
    figures = "".join(
        f'<figure><img alt="{html.escape(kind)}" src="data:image/png;base64,'
        f'{_heatmap_png(r, report.region_threshold, lo, hi)}"><figcaption>{html.escape(kind)}: '
        f"{html.escape(r.path.name)} ({html.escape(r.label)}), score {r.score:.3f}</figcaption></figure>"
        for kind, r in _examples(report, examples_per_group)
    )
    t = report.at_threshold
    pixel = "n/a (no masks)" if report.pixel_auroc is None else f"{report.pixel_auroc:.4f}"
    pro = "n/a (no masks)" if report.aupro is None else f"{report.aupro:.4f}"
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>LineGuard evaluation: {html.escape(report.model_id)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}figure{{display:inline-block;margin:8px}}
img{{image-rendering:pixelated;max-width:520px}}</style></head><body>
<h1>Evaluation of {html.escape(report.model_id)}</h1>
<p>Dataset <code>{html.escape(report.dataset)}</code>:
{report.good_count} good, {report.defect_count} defective images.
Model sha256 <code>{report.model_sha256}</code>. Providers: {html.escape(", ".join(report.providers))}.</p>
<table><tr><th>image AUROC</th><th>pixel AUROC</th><th>AUPRO (30 % FPR)</th><th>recall at 1% FRR</th>
<th>threshold</th>
<th>precision</th><th>recall</th><th>F1</th><th>FRR</th><th>latency median / p99 (ms)</th></tr>
<tr><td>{report.image_auroc:.4f}</td><td>{pixel}</td><td>{pro}</td><td>{report.recall_at_1pct_frr:.3f}</td>
<td>{report.threshold:.4g}</td><td>{t.precision:.3f}</td><td>{t.recall:.3f}</td><td>{t.f1:.3f}</td>
<td>{t.frr:.3f}</td><td>{report.latency_ms_median:.1f} / {report.latency_ms_p99:.1f}</td></tr></table>
<h2>ROC curve</h2>{roc_svg(*report.roc)}
<h2>Per defect type</h2><table><tr><th>type</th><th>images</th><th>image AUROC</th><th>pixel AUROC</th>
<th>AUPRO</th><th>recall at threshold</th></tr>{rows}</table>
<h2>Examples</h2><p>Left: input as the model sees it; right: anomaly map (blue = typical, red = anomalous;
the threshold is mid-scale, or the image's peak is red when it lies further up), white boxes = reported
regions, green = ground-truth mask.</p>{figures}
</body></html>
"""
    path.write_text(body, encoding="utf-8")
    return path
