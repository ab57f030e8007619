"""The built-in backbone's partial pass: the two-pass graph (a low-passed global input) runs the
image only as deep as the local branch reads (issue #24, latency)."""

from __future__ import annotations

import numpy as np
import torch

from lineguard.vision.backbones import Backbone, build_backbone
from lineguard.vision.scoring import GaussianStats, LocalGlobalHead, LowRankGaussian


def _counting(backbone: Backbone) -> list[int]:
    """Block indices in the order the trunk runs them, appended by forward hooks."""
    calls: list[int] = []
    for i, block in enumerate(backbone.blocks):
        block.register_forward_hook(lambda *_, i=i: calls.append(i))
    return calls


def test_a_partial_pass_returns_the_same_maps_and_stops_early() -> None:
    backbone = build_backbone("mobilenet-v2", image_size=128)
    calls = _counting(backbone)
    image = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        full = backbone(image)
        ran_full = list(calls)
        calls.clear()
        part = backbone.features(image, 3)
    assert len(full) == len(backbone.layers) == 4 and len(part) == 3
    for a, b in zip(part, full, strict=False):
        assert torch.equal(a, b)
    assert ran_full == list(range(backbone.layers[-1] + 1))
    assert calls == list(range(backbone.layers[2] + 1))  # blocks past features.13 never ran


def test_the_two_pass_head_runs_the_deep_blocks_on_the_low_passed_image_only() -> None:
    backbone = build_backbone("mobilenet-v2", image_size=128)
    rng = np.random.default_rng(8)
    with torch.no_grad():
        probe = backbone(torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(9)))
    c, h, w = 32 + 96, int(probe[1].shape[-2]), int(probe[1].shape[-1])
    head = LocalGlobalHead(
        local_layers=(1, 2),
        global_layers=(0, 1, 2, 3),
        local_stats=GaussianStats.fit(rng.normal(size=(h * w, 40, c))),
        global_stats=LowRankGaussian.fit(rng.normal(size=(20, 22 * (24 + 32 + 96 + 160))), max_rank=8),
        grid=(h, w),
        output_size=(128, 128),
        sigma=2.0,
        global_lowpass=1.5,
    )
    calls = _counting(backbone)
    image = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(10))
    with torch.no_grad():
        emb, desc = head.image_parts(backbone, image)
        ran = list(calls)
        reference = head.parts(backbone(image), backbone(head.global_input(image)))  # type: ignore[misc]
    local_depth, full_depth = backbone.layers[2] + 1, backbone.layers[-1] + 1
    # the image's own pass stops after features.13; the low-passed one runs the whole trunk
    assert ran == list(range(local_depth)) + list(range(full_depth))
    assert torch.equal(emb, reference[0]) and torch.equal(desc, reference[1])
