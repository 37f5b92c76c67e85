"""One network, any backend: the glue between a PyTorch module, its exported ONNX file and a runner.

A stage describes its network once (:class:`NetworkSpec`: how to build the float32 module, how to
export it, its I/O names and TensorRT shape profiles) and asks :func:`make_network_runner` for a
runner on the configured backend:

* ``torch``: the module itself (reference path; fp16 autocast on CUDA);
* ``onnxruntime``: the exported graph (exported on first use into the artifact folder);
* ``trt``: the same graph built into a TensorRT engine (engine cache, see ``runtime.tensorrt``).

Artifacts live in ``config.engine_cache`` or ``<cache root>/engines``; ``motionseg-trt build``
fills the same folder ahead of time, so a run finds them.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from .base import Runner


@dataclass
class NetworkSpec:
    name: str  # unique file stem: network, variant, resolution, weights identity
    input_names: Sequence[str]
    output_names: Sequence[str]
    build_module: Callable[[], object]  # -> float32 nn.Module in eval mode, weights loaded
    export: Callable[[str, bool], str]  # (onnx_path, fp16) -> onnx_path
    profiles: Optional[dict] = None  # TensorRT {input: (min, opt, max)}
    info: dict = field(default_factory=dict)


def artifacts_dir(config) -> Path:
    from ..official_weights import cache_root

    return Path(config.engine_cache) if getattr(config, "engine_cache", None) else cache_root() / "engines"


def weights_tag(weights: Optional[str], seed: Optional[int] = 0) -> str:
    """A short id of the weights a graph bakes in (path, size, mtime: cheap, changes when the file does)."""
    if weights is None:
        return f"random{seed}"
    st = os.stat(weights)
    ident = f"{os.path.abspath(weights)}|{st.st_size}|{int(st.st_mtime)}"
    return hashlib.sha256(ident.encode()).hexdigest()[:10]


def onnx_path_for(config, spec: NetworkSpec, fp16: bool) -> Path:
    return artifacts_dir(config) / "onnx" / f"{spec.name}{'.fp16' if fp16 else ''}.onnx"


def ensure_onnx(config, spec: NetworkSpec, fp16: bool = False, log: Callable[[str], None] = print) -> Path:
    path = onnx_path_for(config, spec, fp16)
    if not path.exists():
        log(f"exporting {spec.name}{' (fp16)' if fp16 else ''} to {path}")
        spec.export(str(path), fp16)
    return path


def ort_providers(config) -> list[str]:
    extra = getattr(config, "extra", {}) or {}
    if extra.get("ort_providers"):
        return list(extra["ort_providers"])
    return ["cuda", "cpu"] if str(getattr(config, "device", "cpu")).startswith("cuda") else ["cpu"]


def make_network_runner(config, spec: NetworkSpec, log: Callable[[str], None] = print) -> Runner:
    backend = getattr(config, "backend", "onnxruntime")
    fp16 = bool(getattr(config, "fp16", False))
    device = str(getattr(config, "device", "cpu"))
    if backend == "torch":
        from .torch import make_torch_runner

        return make_torch_runner(spec.build_module, spec.input_names, spec.output_names, device=device, fp16=fp16)
    if backend == "onnxruntime":
        from .onnxruntime import OnnxrtRunner, SessionFromOnnx

        providers = ort_providers(config)
        # fp16 graphs only pay off on a GPU provider; on CPU the float32 graph is faster and exact
        use_fp16 = fp16 and any(p.lower() not in ("cpu", "cpuexecutionprovider") for p in providers)
        path = ensure_onnx(config, spec, use_fp16, log)
        return OnnxrtRunner(SessionFromOnnx(str(path), providers=providers,
                                            intra_op_threads=getattr(config, "threads", None)))
    if backend == "trt":
        from .tensorrt import EngineFromOnnx, TrtRunner

        # float32 graph: TensorRT 10 lowers it with the FP16 flag; for TensorRT 11 the loader
        # converts it to an fp16-typed graph first (strong typing)
        path = ensure_onnx(config, spec, False, log)
        return TrtRunner(EngineFromOnnx(str(path), fp16=fp16, profiles=spec.profiles,
                                        cache_dir=str(artifacts_dir(config) / "trt"), name=spec.name, log=log))
    raise ValueError(f"unknown backend {backend!r}; choose one of torch, onnxruntime, trt")
