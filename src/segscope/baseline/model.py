"""A small U-Net in plain PyTorch (no torchvision, timm or segmentation_models_pytorch).

The network takes float RGB images in 0..255 (N×3×H×W) and returns class logits (N×K×H×W) at the
input size; the normalisation is part of the model, so an exported ONNX file is self-contained.
Any input size works (skips are resized to match), sizes divisible by ``2 ** depth`` are best.

Examples
--------
>>> import torch
>>> net = UNet(num_classes=3, base=8, depth=2)
>>> net(torch.zeros(1, 3, 20, 24)).shape
torch.Size([1, 3, 20, 24])
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["UNet", "build_model", "MODEL_DEFAULTS"]

#: default architecture settings, recorded in ``run/config.json``
MODEL_DEFAULTS = {"arch": "unet", "base": 16, "depth": 4, "in_channels": 3}

# ImageNet statistics in 0..255
_MEAN = (123.675, 116.28, 103.53)
_STD = (58.395, 57.12, 57.375)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """U-Net (Ronneberger et al., 2015, doi:10.1007/978-3-319-24574-4_28) with batch norm,
    max-pool downsampling and bilinear upsampling.

    Parameters
    ----------
    num_classes : K, the number of output channels.
    in_channels : input channels (3 for RGB).
    base : channels of the first level; level ``i`` has ``base * 2**i``.
    depth : number of downsampling steps.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, base: int = 16, depth: int = 4):
        super().__init__()
        if depth < 1 or base < 1 or num_classes < 1:
            raise ValueError("num_classes, base and depth must be >= 1")
        self.num_classes, self.in_channels, self.base, self.depth = num_classes, in_channels, base, depth
        ch = [base * 2**i for i in range(depth + 1)]
        self.encoders = nn.ModuleList([_block(in_channels, ch[0])] + [_block(ch[i], ch[i + 1]) for i in range(depth)])
        self.decoders = nn.ModuleList([_block(ch[i + 1] + ch[i], ch[i]) for i in reversed(range(depth))])
        self.head = nn.Conv2d(ch[0], num_classes, 1)
        mean = torch.tensor(_MEAN[:in_channels] if in_channels == 3 else [127.5] * in_channels)
        std = torch.tensor(_STD[:in_channels] if in_channels == 3 else [64.0] * in_channels)
        self.register_buffer("mean", mean.view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        skips = []
        for i, enc in enumerate(self.encoders):
            x = enc(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for dec in self.decoders:
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = dec(torch.cat([x, skip], dim=1))
        return self.head(x)


def build_model(num_classes: int, config: dict | None = None) -> UNet:
    """Build the network described by a model config (see :data:`MODEL_DEFAULTS`)."""
    cfg = {**MODEL_DEFAULTS, **(config or {})}
    if cfg["arch"] != "unet":
        raise ValueError(f"unknown architecture {cfg['arch']!r}")
    return UNet(num_classes, in_channels=cfg["in_channels"], base=cfg["base"], depth=cfg["depth"])
