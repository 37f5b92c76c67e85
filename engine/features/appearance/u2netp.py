"""U²-Netp (Qin et al., "U²-Net: Going deeper with nested U-structure for salient object detection",
Pattern Recognition 2020), the 4.7 MB salient-object network, in PyTorch.

The weights come from the published ONNX graph (:data:`.packaged.U2NETP`), whose batch norms are folded
into the convolutions: each "REBNCONV" here is a 3×3 convolution with bias and a ReLU, and the graph's
convolutions are taken in execution order, which is this module's order. The published graph is the
reference (``tests/test_appearance_networks.py`` holds this module to it on a real photograph); this
module is what the ``torch`` backend runs.

Input ``[B, 3, H, W]`` RGB, divided by the image's maximum, then ImageNet-normalised
(:func:`.preprocess.saliency_input`); output the fused side map after its sigmoid, ``[B, 1, H, W]``
(the published graph's first output; the six side outputs are left out).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvRelu(nn.Sequential):
    def __init__(self, cin: int, cout: int, dilation: int = 1):
        super().__init__(nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation), nn.ReLU(inplace=True))


def _up_like(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=ref.shape[2:], mode="bilinear", align_corners=False)


def _pool(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, 2, 2, ceil_mode=True)


class RSU(nn.Module):
    """Residual U-block of ``height`` levels (RSU-7 ... RSU-4): pooled encoder, a dilated bottom,
    upsampled decoder, plus the block's input convolution as a residual."""

    def __init__(self, height: int, cin: int, mid: int, cout: int):
        super().__init__()
        self.conv_in = ConvRelu(cin, cout)
        self.enc = nn.ModuleList([ConvRelu(cout, mid)] + [ConvRelu(mid, mid) for _ in range(height - 2)])
        self.bottom = ConvRelu(mid, mid, dilation=2)
        self.dec = nn.ModuleList([ConvRelu(2 * mid, mid) for _ in range(height - 2)] + [ConvRelu(2 * mid, cout)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xin = self.conv_in(x)
        skips, h = [], xin
        for i, conv in enumerate(self.enc):
            h = conv(h if i == 0 else _pool(h))
            skips.append(h)
        h = self.bottom(h)
        for i, conv in enumerate(self.dec):
            skip = skips[-1 - i]
            h = conv(torch.cat((h if i == 0 else _up_like(h, skip), skip), 1))
        return h + xin


class RSUF(nn.Module):
    """RSU-4F: the same U without pooling, dilations 1, 2, 4, 8 instead (for the coarsest stages)."""

    def __init__(self, cin: int, mid: int, cout: int):
        super().__init__()
        self.conv_in = ConvRelu(cin, cout)
        self.enc = nn.ModuleList([ConvRelu(cout, mid, 1), ConvRelu(mid, mid, 2), ConvRelu(mid, mid, 4)])
        self.bottom = ConvRelu(mid, mid, 8)
        self.dec = nn.ModuleList([ConvRelu(2 * mid, mid, 4), ConvRelu(2 * mid, mid, 2), ConvRelu(2 * mid, cout, 1)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xin = self.conv_in(x)
        skips, h = [], xin
        for conv in self.enc:
            h = conv(h)
            skips.append(h)
        h = self.bottom(h)
        for i, conv in enumerate(self.dec):
            h = conv(torch.cat((h, skips[-1 - i]), 1))
        return h + xin


class U2NetP(nn.Module):
    def __init__(self, mid: int = 16, width: int = 64):
        super().__init__()
        self.encoder = nn.ModuleList([RSU(7, 3, mid, width), RSU(6, width, mid, width), RSU(5, width, mid, width),
                                      RSU(4, width, mid, width), RSUF(width, mid, width), RSUF(width, mid, width)])
        self.decoder = nn.ModuleList([RSUF(2 * width, mid, width), RSU(4, 2 * width, mid, width),
                                      RSU(5, 2 * width, mid, width), RSU(6, 2 * width, mid, width),
                                      RSU(7, 2 * width, mid, width)])
        self.side = nn.ModuleList([nn.Conv2d(width, 1, 3, padding=1) for _ in range(6)])
        self.fuse = nn.Conv2d(6, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats, h = [], x
        for i, stage in enumerate(self.encoder):
            h = stage(h if i == 0 else _pool(h))
            feats.append(h)
        decoded = [h]  # stage 6's output is the deepest decoder level
        for i, stage in enumerate(self.decoder):
            skip = feats[-2 - i]
            h = stage(torch.cat((_up_like(h, skip), skip), 1))
            decoded.append(h)
        # side maps from the finest level (stage 1d) to the coarsest (stage 6), at the input's size
        sides = [self.side[i](decoded[-1 - i]) for i in range(6)]
        sides = [sides[0]] + [_up_like(s, sides[0]) for s in sides[1:]]
        return torch.sigmoid(self.fuse(torch.cat(sides, 1)))


def load_from_onnx(model: U2NetP, onnx_path) -> U2NetP:
    """Fill ``model`` with the weights of the published graph: its convolutions in execution order."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    tensors = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    mine = _conv_order(model)
    if len(convs) != len(mine):
        raise ValueError(f"{onnx_path}: {len(convs)} convolutions, U²-Netp has {len(mine)}")
    with torch.no_grad():
        for node, conv in zip(convs, mine):
            weight, bias = tensors[node.input[1]], tensors[node.input[2]]
            if tuple(weight.shape) != tuple(conv.weight.shape):
                raise ValueError(f"{onnx_path}: convolution {node.name or node.output[0]} has shape "
                                 f"{weight.shape}, expected {tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(weight.copy()))
            conv.bias.copy_(torch.from_numpy(bias.copy()))
    return model.eval()


def _conv_order(model: U2NetP) -> list[nn.Conv2d]:
    """The convolutions in the order a forward pass runs them."""
    order: list[nn.Conv2d] = []
    hooks = [m.register_forward_pre_hook(lambda mod, _: order.append(mod)) for m in model.modules()
             if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, 64, 64))
    finally:
        for h in hooks:
            h.remove()
    return order
