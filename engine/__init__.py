"""motionseg-trt: streaming moving-object segmentation (Segment Any Motion in Videos, CVPR 2025).

Data flows one way: decode -> tracks -> features -> motion labels -> masks -> writers.
The contracts between those stages live in :mod:`motionseg_trt.contracts`.

``from motionseg_trt import segment``: the Python API (:mod:`motionseg_trt.api`), imported when
first used so that ``import motionseg_trt`` (and the command line) stays light.
"""

__version__ = "0.1.0"

_LAZY = {"segment": "api", "Segmentation": "api", "list_options": "api",
         "FrameResult": "results", "FrameObject": "results"}
__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
