"""Small numeric kernels with an optional C++/CUDA implementation (``csrc/``) and a NumPy/PyTorch
fallback that gives the same answers. Names resolve lazily so that importing one op never pulls the
others (or their extension) in."""
from __future__ import annotations

import importlib

_EXPORTS = {
    "freq_encode": "freq_encoding",  # module named apart from the function: no shadowing on import
    "medoid": "medoid_search",  # module named apart from the function, as above
    "medoid_batched": "medoid_search",
    "prompt_points": "medoid_search",
    "bilinear_sample": "sampling",
}


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        # importing submodule `x` binds the package attribute `x` to it; rebind to the function so that
        # `from motionseg_trt.ops import freq_encode` gives the function, not the module of that name
        globals()[name] = value
        return value
    raise AttributeError(name)


__all__ = list(_EXPORTS)
