"""The Prometheus endpoint: frames/s, latencies, drops, queue depths, outbox backlog.

Metrics are read from the node's live counters at scrape time by one custom collector
(no second set of counters to keep in step), served from the node's own registry on
``metrics.host:metrics.port``, loopback by default so nothing leaves the node unless
an operator opens it on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

if TYPE_CHECKING:
    from lineguard.edge.app import EdgeNode

__all__ = ["NodeCollector", "serve_metrics"]


class NodeCollector:
    def __init__(self, node: EdgeNode) -> None:
        self.node = node

    def collect(self) -> Iterator[Any]:
        cams = list(self.node.stats.values())
        label = ["camera"]

        def gauge(
            name: str, doc: str, values: list[tuple[list[str], float]], labels: list[str] = label
        ) -> Any:
            fam = GaugeMetricFamily(f"lineguard_edge_{name}", doc, labels=labels)
            for lv, v in values:
                fam.add_metric(lv, v)
            return fam

        def counter(
            name: str, doc: str, values: list[tuple[list[str], float]], labels: list[str] = label
        ) -> Any:
            fam = CounterMetricFamily(f"lineguard_edge_{name}", doc, labels=labels)
            for lv, v in values:
                fam.add_metric(lv, v)
            return fam

        yield gauge(
            "fps", "Frames inspected per second (5 s window).", [([c.camera_id], c.fps.rate()) for c in cams]
        )
        yield counter(
            "frames_captured",
            "Frames read from the source.",
            [([c.camera_id], c.frames_captured) for c in cams],
        )
        yield counter(
            "frames_inspected",
            "Frames that produced an event.",
            [([c.camera_id], c.frames_inspected) for c in cams],
        )
        yield counter(
            "frames_dropped",
            "Frames dropped under overload (freshest wins).",
            [([c.camera_id], c.frames_dropped) for c in cams],
        )
        yield counter(
            "frames_corrupt",
            "Corrupt or truncated frames skipped.",
            [([c.camera_id], c.frames_corrupt) for c in cams],
        )
        yield counter(
            "frames_invalid",
            "Frames of the wrong size or layout.",
            [([c.camera_id], c.frames_invalid) for c in cams],
        )
        yield counter("model_errors", "Inference failures.", [([c.camera_id], c.model_errors) for c in cams])
        yield counter(
            "verdicts",
            "Verdicts by kind.",
            [([c.camera_id, v], n) for c in cams for v, n in c.verdicts.items()],
            ["camera", "verdict"],
        )
        yield counter(
            "parts_views_short",
            "Parts judged on fewer frames than parts.expected_frames_per_part (frames dropped under load).",
            [([c.camera_id], c.parts_views_short) for c in cams],
        )
        yield counter(
            "parts_short_to_review",
            "Parts sent to review because they were judged on fewer than parts.min_frames_per_part frames.",
            [([c.camera_id], c.parts_short_to_review) for c in cams],
        )
        yield gauge(
            "queue_depth",
            "Frames waiting for inspection.",
            [([c.camera_id], len(c.queue) if c.queue else 0) for c in cams],
        )
        yield gauge(
            "latency_ms",
            "End-to-end latency, frame arrival to event in outbox.",
            [
                ([c.camera_id, q], c.end_to_end.percentile(p))
                for c in cams
                for q, p in (("p50", 50), ("p99", 99))
            ],
            ["camera", "quantile"],
        )
        yield gauge(
            "stage_latency_ms",
            "Per-stage latency.",
            [
                ([c.camera_id, s, q], w.percentile(p))
                for c in cams
                for s, w in c.stages.items()
                for q, p in (("p50", 50), ("p99", 99))
            ],
            ["camera", "stage", "quantile"],
        )
        yield gauge(
            "camera_up",
            "1 while the source is streaming.",
            [([c.camera_id], float(c.state == "streaming")) for c in cams],
        )
        health = self.node.health()
        out = health["outbox"]
        yield gauge("outbox_backlog", "Items waiting to be sent.", [([], float(out["backlog"]))], [])
        yield counter("outbox_sent", "Items delivered to the server.", [([], float(out["sent"]))], [])
        yield counter(
            "outbox_shed", "Pass events shed under the disk budget.", [([], float(out["shed"]))], []
        )
        ev = health["evidence"]
        yield counter("evidence_stored", "Evidence objects stored.", [([], float(ev["stored"]))], [])
        yield counter(
            "redaction_failures",
            "Evidence not stored because redaction failed.",
            [([], float(ev["redaction_failures"]))],
            [],
        )
        shed = ev["dropped_by_category"]
        yield counter(
            "evidence_dropped",
            "Evidence shed under load before redaction, per verdict (passes first, fails last).",
            [([category], float(count)) for category, count in shed.items()],
            ["category"],
        )
        yield counter(
            "evidence_defect_hidden",
            "Evidence images in which privacy redaction hid part of a defect region.",
            [([], float(ev["defect_hidden"]))],
            [],
        )
        yield gauge(
            "disk_used_bytes", "Outbox plus evidence bytes.", [([], float(health["disk"]["used_bytes"]))], []
        )


def serve_metrics(node: EdgeNode, host: str, port: int) -> tuple[Any, int]:
    """Start the endpoint in a daemon thread; returns (server, bound port)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NodeCollector(node))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server, int(server.server_port)
