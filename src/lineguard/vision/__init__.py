"""Detection engine: learn what good parts look like, score new images, export one ONNX package.

The modules an edge node imports (``package``, ``preprocess``, ``runtime``, ``regions``,
``testing``, plus ``dataset``, ``metrics``, ``calibration``, ``evaluate``, ``report``)
need only numpy, OpenCV and onnxruntime. Training and export (``backbones``,
``onnx_backbone``, ``scoring``, ``train``, ``export``) import torch, a training-time
dependency only, and are never imported by the runtime side. The method and its
measurements: ``docs/detection.md``.

Data flow::

    train/good images ─► preprocess ─► backbone features ─► fit scorer ─► calibrate threshold
                                                                        └─► export ONE ONNX graph
    package dir = model.onnx + metadata.json ─► OnnxModelRunner.infer(frame) ─► Scores
                                                               anomaly map ─► regions_from_map
"""
