"""Builds (or fetches from the engine cache) a TensorRT engine for an ONNX graph.

TensorRT 10 and 11 differ in how precision is chosen:

* TensorRT 10 is weakly typed by default: a float32 graph plus ``BuilderFlag.FP16`` lets the builder
  pick fp16 kernels where it likes;
* TensorRT 11 removed the precision flags: networks are strongly typed, so an fp16 engine needs an
  ONNX graph whose tensors already are float16. :func:`fp16_onnx` converts a float32 graph first
  (NVIDIA ModelOpt AutoCast when installed, else onnxconverter-common), keeping float32 inputs and
  outputs so callers feed the same arrays.

``import tensorrt`` happens only when a build or a deserialisation is asked for; on a machine
without TensorRT that raises :class:`~motionseg_trt.errors.UnavailableError` with one clear line.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

from ...errors import ModelFileError, UnavailableError
from ..base import Loader
from .cache import EngineCache, EngineKey, normalize_profiles, onnx_digest, sha256_file

TRT_MISSING = ("TensorRT is not installed (the `tensorrt` Python package with its builder); install it "
               "from NVIDIA (pip install --extra-index-url https://pypi.nvidia.com tensorrt) or use "
               "--backend onnxruntime")


def import_tensorrt(builder: bool = True):
    """The ``tensorrt`` module, or UnavailableError. ``builder=False`` also accepts the runtime-only
    ``tensorrt_lean`` package (it can run engines built as version-compatible, never build them)."""
    try:
        import tensorrt as trt  # noqa: PLC0415

        return trt
    except ImportError:
        if not builder:
            try:
                import tensorrt_lean as trt_lean  # noqa: PLC0415

                return trt_lean
            except ImportError:
                pass
    raise UnavailableError(TRT_MISSING)


def trt_major(trt) -> int:
    return int(str(trt.__version__).split(".")[0])


def compute_capability() -> str:
    """The current CUDA device's compute capability, e.g. "9.0" (H100); UnavailableError without one."""
    try:
        import torch

        if torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability()
            return f"{major}.{minor}"
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    try:
        from cuda.bindings import runtime as cudart  # cuda-python

        err, dev = cudart.cudaGetDevice()
        if int(err) == 0:
            _, major = cudart.cudaDeviceGetAttribute(cudart.cudaDeviceAttr.cudaDevAttrComputeCapabilityMajor, dev)
            _, minor = cudart.cudaDeviceGetAttribute(cudart.cudaDeviceAttr.cudaDevAttrComputeCapabilityMinor, dev)
            return f"{major}.{minor}"
    except ImportError:
        pass
    raise UnavailableError("no CUDA GPU visible: TensorRT engines are built for a GPU")


def fp16_onnx(onnx_path: str, out_dir: Optional[str] = None) -> str:
    """A float16-typed copy of ``onnx_path`` (inputs/outputs kept float32), cached by content hash.

    A graph that already computes in float16 (e.g. exported with ``fp16=True``) is returned as is.
    """
    import onnx

    model = onnx.load(onnx_path, load_external_data=False)
    if any(init.data_type == onnx.TensorProto.FLOAT16 for init in model.graph.initializer):
        return onnx_path
    digest = sha256_file(onnx_path)[:16]
    out = Path(out_dir or Path(onnx_path).parent) / f"{Path(onnx_path).stem}.fp16-{digest}.onnx"
    from .. import artifacts

    if out.exists() and artifacts.problem(out) is None:
        return str(out)
    try:
        from modelopt.onnx import autocast  # NVIDIA's recommended converter for TensorRT 11

        converted = autocast.convert_to_mixed_precision(onnx_path=onnx_path, low_precision_type="fp16",
                                                        keep_io_types=True)
    except ImportError:
        try:
            from onnxconverter_common import float16
        except ImportError as exc:
            raise UnavailableError("an fp16 engine on TensorRT 11 needs an fp16 ONNX graph: install "
                                   "nvidia-modelopt or onnxconverter-common, or export with --fp16") from exc
        converted = float16.convert_float_to_float16(onnx.load(onnx_path), keep_io_types=True)
    artifacts.make(out, lambda tmp: onnx.save(converted, tmp))  # atomic, with its check record
    return str(out)


class EngineFromOnnx(Loader):
    """Loader: ONNX file -> deserialised ``ICudaEngine`` (building and caching the plan as needed).

    ``profiles``: one dict ``{input: (min, opt, max)}`` or a list of them (one per optimization
    profile); required for inputs with dynamic dimensions. ``timing_cache``: a file reused and updated
    across builds (speeds up rebuilds). ``build_fn`` replaces the TensorRT builder (``() -> bytes``);
    with ``trt_version`` and ``capability`` given too, the caching logic runs without TensorRT (tests).
    """

    def __init__(self, onnx_path: str, fp16: bool = False, profiles=None, cache_dir: Optional[str] = None,
                 timing_cache: Optional[str] = None, workspace_bytes: Optional[int] = None,
                 name: Optional[str] = None, build_fn: Optional[Callable[[], bytes]] = None,
                 trt_version: Optional[str] = None, capability: Optional[str] = None,
                 log: Optional[Callable[[str], None]] = None, **_ignored):
        self.onnx_path = os.fspath(onnx_path)
        self.fp16 = bool(fp16)
        self.profiles = normalize_profiles(profiles)
        if cache_dir is None:
            from ...cache import cache_root

            cache_dir = str(cache_root() / "engines" / "trt")
        self.cache = EngineCache(cache_dir)
        self.timing_cache = timing_cache or str(Path(self.cache.root) / "timing.cache")
        self.workspace_bytes = workspace_bytes
        self.name = name or Path(self.onnx_path).stem
        self._build_fn = build_fn
        self._trt_version = trt_version
        self._capability = capability
        self._log = log or (lambda msg: None)

    # -- key -----------------------------------------------------------------------------------
    def key(self) -> EngineKey:
        if not os.path.exists(self.onnx_path):
            raise ModelFileError(f"ONNX file not found: {self.onnx_path} (run `motionseg-trt build`)")
        # the runtime's version is enough to look a plan up; only a build needs the builder
        version = self._trt_version or str(import_tensorrt(builder=False).__version__)
        capability = self._capability or compute_capability()
        return EngineKey(onnx_sha256=onnx_digest(self.onnx_path), compute_capability=capability,
                         trt_version=version, precision="fp16" if self.fp16 else "fp32",
                         profiles=self.profiles)

    # -- build ---------------------------------------------------------------------------------
    def serialized_engine(self) -> bytes:
        """The plan for this graph on this GPU/TensorRT, from the cache or freshly built."""
        key = self.key()
        return self.cache.get_or_build(key, self._build_fn or self._build_with_tensorrt, name=self.name,
                                       info={"onnx_path": os.path.abspath(self.onnx_path)})

    def _build_with_tensorrt(self) -> bytes:
        trt = import_tensorrt(builder=True)
        major = trt_major(trt)
        onnx_path = self.onnx_path
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        if major >= 11 and self.fp16:
            # strongly typed only: precision comes from the graph's types
            onnx_path = fp16_onnx(onnx_path)
        network = builder.create_network(0)  # explicit batch (the only mode since TensorRT 10)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse_from_file(onnx_path):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ModelFileError(f"TensorRT cannot parse {onnx_path}: {errors}")
        config = builder.create_builder_config()
        if self.workspace_bytes:
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(self.workspace_bytes))
        if self.fp16 and major < 11:
            config.set_flag(trt.BuilderFlag.FP16)
        self._add_profiles(trt, builder, network, config)
        timing = self._load_timing_cache(config)
        self._log(f"building TensorRT {trt.__version__} engine for {Path(onnx_path).name} "
                  f"({'fp16' if self.fp16 else 'fp32'})")
        plan = builder.build_serialized_network(network, config)
        if plan is None:
            raise RuntimeError(f"TensorRT failed to build an engine for {onnx_path} (see its log above)")
        self._save_timing_cache(timing)
        return bytes(plan)

    def _add_profiles(self, trt, builder, network, config) -> None:
        inputs = [network.get_input(i) for i in range(network.num_inputs)]
        dynamic = [t.name for t in inputs if any(int(d) < 0 for d in t.shape)]
        if not self.profiles:
            if dynamic:
                raise ValueError(f"{self.onnx_path}: inputs {dynamic} have dynamic shapes; give "
                                 "min/opt/max profiles")
            return
        for prof in self.profiles:
            profile = builder.create_optimization_profile()
            named = {row[0] for row in prof}
            missing = [n for n in dynamic if n not in named]
            if missing:
                raise ValueError(f"profile lacks dynamic inputs {missing}")
            for name, mn, opt, mx in prof:
                profile.set_shape(name, mn, opt, mx)
            config.add_optimization_profile(profile)

    def _load_timing_cache(self, config):
        data = b""
        if self.timing_cache and os.path.exists(self.timing_cache):
            data = Path(self.timing_cache).read_bytes()
        cache = config.create_timing_cache(data)
        if not config.set_timing_cache(cache, ignore_mismatch=False) and data:
            # a timing cache from another GPU/TensorRT: start a fresh one rather than trust it
            cache = config.create_timing_cache(b"")
            config.set_timing_cache(cache, ignore_mismatch=False)
        return cache

    def _save_timing_cache(self, cache) -> None:
        if not self.timing_cache:
            return
        path = Path(self.timing_cache)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(cache.serialize()))
        os.replace(tmp, path)

    # -- load ----------------------------------------------------------------------------------
    def __call__(self):
        trt = import_tensorrt(builder=False)
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        plan = self.serialized_engine()
        engine = runtime.deserialize_cuda_engine(plan)
        if engine is None:
            # checksum was right but TensorRT rejects it (e.g. a driver change): rebuild once
            key = self.key()
            self.cache.invalidate(key, self.name)
            engine = runtime.deserialize_cuda_engine(self.serialized_engine())
            if engine is None:
                raise RuntimeError(f"TensorRT cannot deserialize the engine built for {self.onnx_path}")
        return engine


class EngineFromPlan(Loader):
    """Loader for an already built plan file (e.g. on a machine with only the lean runtime)."""

    def __init__(self, plan_path: str):
        self.plan_path = os.fspath(plan_path)

    def __call__(self):
        trt = import_tensorrt(builder=False)
        if not os.path.exists(self.plan_path):
            raise ModelFileError(f"engine file not found: {self.plan_path}")
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        runtime.engine_host_code_allowed = True  # version-compatible plans embed a lean runtime
        engine = runtime.deserialize_cuda_engine(Path(self.plan_path).read_bytes())
        if engine is None:
            raise ModelFileError(f"{self.plan_path} is not a TensorRT engine for this GPU/TensorRT version")
        return engine
