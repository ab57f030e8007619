"""The edge node: one per production line, every image stays on it.

Data flows through these packages, in this order::

    capture/   frame sources (folder, video, RTSP/MJPEG, USB, synthetic line);
               privacy zones blacked out here, before any other stage sees a frame
    preprocess region of interest, frame-size checks
    infer/     the camera's model (ONNX Runtime) → anomaly score and map
    decide/    verdict, defect regions, debouncing, alerts, work-order triggers
    redact/    people hidden in frames about to become evidence
    evidence/  redacted evidence encrypted per object, signed at capture, crypto-shredded
    outbox/    durable SQLite queue, then metadata only to the plant server over mTLS

:mod:`lineguard.edge.app` wires the workers together in one readable ``start()`` list.
"""

from __future__ import annotations

__all__: list[str] = []
