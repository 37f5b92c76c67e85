"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant for mobile: no squeeze-excitation, ReLU6, fixed
stem and head), in PyTorch, with the key names of the ``efficientnet_pytorch`` state dict that
:data:`.packaged.EFFICIENTNET_LITE0` holds (``_conv_stem``, ``_blocks.N._expand_conv`` ...).

Used as a frozen ImageNet backbone: :class:`BackboneFeatures` gives the stride-16 features (block 10,
112 channels) with the stride-32 ones (block 15, 320 channels) upsampled onto the same grid, 432
channels in all. The classifier head is kept so that the weights can be checked on a real photograph.

Padding follows TensorFlow's "same" rule, which for even input sizes pads stride-2 convolutions by
``k - 2`` in total with the extra pixel at the right and bottom; inputs must therefore be multiples of 32.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# (repeats, kernel, stride, expansion, in, out) per stage: EfficientNet-B0's blocks
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
BN = dict(eps=1e-3, momentum=0.01)
STRIDE16_BLOCK, STRIDE32_BLOCK = 10, 15
FEATURE_CHANNELS = 112 + 320
MULTIPLE = 32  # input sizes must be multiples of this


class SameConv2d(nn.Conv2d):
    """A convolution with TensorFlow's "same" padding, for even input sizes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        if s == 1:
            return F.conv2d(x, self.weight, self.bias, 1, k // 2, 1, self.groups)
        lo, hi = (k - 2) // 2, (k - 2) - (k - 2) // 2
        return F.conv2d(F.pad(x, [lo, hi, lo, hi]), self.weight, self.bias, s, 0, 1, self.groups)


class MBConv(nn.Module):
    """Inverted residual: 1×1 expansion, depthwise k×k, 1×1 projection; identity skip when the shape holds."""

    def __init__(self, kernel: int, stride: int, expansion: int, cin: int, cout: int):
        super().__init__()
        mid = cin * expansion
        self.has_expansion = expansion != 1
        if self.has_expansion:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, **BN)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, **BN)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, **BN)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.has_expansion else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite0(nn.Module):
    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, 2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **BN)
        blocks = []
        for repeats, k, s, e, cin, cout in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(k, s if i == 0 else 1, e, cin if i == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, **BN)
        self._fc = nn.Linear(1280, num_classes)

    def taps(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """The outputs of blocks ``STRIDE16_BLOCK`` and ``STRIDE32_BLOCK`` (the rest is not kept)."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        out = {}
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in (STRIDE16_BLOCK, STRIDE32_BLOCK):
                out[i] = x
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (1000 classes)."""
        x = self.taps(x)[STRIDE32_BLOCK]
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean((2, 3)))


class BackboneFeatures(nn.Module):
    """``[B, 3, H, W]`` normalised RGB -> ``[B, 432, H/16, W/16]``: stride-16 and upsampled stride-32 features."""

    def __init__(self, net: EfficientNetLite0):
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        taps = self.net.taps(image)
        s16, s32 = taps[STRIDE16_BLOCK], taps[STRIDE32_BLOCK]
        up = F.interpolate(s32, size=s16.shape[2:], mode="bilinear", align_corners=False)
        return torch.cat((s16, up), 1)


def load_efficientnet_lite0(path) -> EfficientNetLite0:
    """The network with the weights of ``path`` (an ``efficientnet_pytorch``-style state dict)."""
    from ...errors import ModelFileError
    from ...state_dict import read_state_dict

    state, _ = read_state_dict(path, "EfficientNet-Lite0 weights")
    model = EfficientNetLite0()
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ModelFileError(f"{path} is not an EfficientNet-Lite0 state dict: missing {sorted(missing)[:3]}, "
                             f"unexpected {sorted(unexpected)[:3]}")
    return model.eval()
