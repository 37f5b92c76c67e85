"""ONNX Runtime as a backend: the exported graph in an ``InferenceSession`` on the providers the
device asks for (or the ``ort_providers`` option)."""
from __future__ import annotations

import sys
from typing import Optional

from ...errors import UnavailableError
from ..backend import Backend
from .loader import SessionFromOnnx
from .runner import OnnxrtRunner

GPU_DEVICE_PROVIDERS = ["cuda", "cpu"]


def ort_providers(config) -> list[str]:
    """The providers a run asks for: the ``ort_providers`` option, else CUDA first on ``--device cuda``."""
    from ...options import ENGINE_OPTIONS, read_option

    given = read_option(config, ENGINE_OPTIONS, "ort_providers")
    if given:
        return list(given)
    return list(GPU_DEVICE_PROVIDERS) if str(config.device).startswith("cuda") else ["cpu"]


def _on_gpu(providers) -> bool:
    return any(p.lower() not in ("cpu", "cpuexecutionprovider") for p in providers)


class OnnxruntimeBackend(Backend):
    name = "onnxruntime"
    title = "ONNX Runtime"

    def check_device(self, config) -> None:
        # ONNX Runtime falls back to its CPU provider without a word; an explicit ort_providers option
        # is the user's own choice and is not second-guessed
        from ...options import ENGINE_OPTIONS, read_option

        if not str(config.device).startswith("cuda") or read_option(config, ENGINE_OPTIONS, "ort_providers"):
            return
        import onnxruntime as ort

        have = ort.get_available_providers()
        if "CUDAExecutionProvider" not in have:
            raise UnavailableError(f"--device cuda: this onnxruntime ({ort.__version__}) has no CUDA provider "
                                   f"(it has {', '.join(have)}); install onnxruntime-gpu, or use --device cpu")

    def onnx_fp16(self, config) -> bool:
        # fp16 graphs pay off on a GPU provider only; on the CPU the float32 graph is faster and exact
        return bool(config.fp16) and _on_gpu(ort_providers(config))

    def runner(self, graph, config, onnx_path, log) -> OnnxrtRunner:
        return OnnxrtRunner(SessionFromOnnx(onnx_path, providers=ort_providers(config),
                                            intra_op_threads=config.threads))

    def prepare(self, graph, config, onnx_path, log) -> None:
        """Create the session (loads, checks and optimises the graph) and say when ONNX Runtime uses
        fewer providers than asked for."""
        providers = ort_providers(config)
        runner = OnnxrtRunner(SessionFromOnnx(onnx_path, providers=providers))
        with runner:
            used = runner.providers
        wanted = {p for p in providers if p != "cpu"}
        if wanted and used == ["CPUExecutionProvider"]:
            print(f"  note: {', '.join(sorted(wanted))} not available in this onnxruntime build; "
                  f"{onnx_path} runs on CPU", file=sys.stderr)

    def missing(self, build: bool = False) -> Optional[str]:
        return None  # a dependency of the package

    def holds_attention_matrices(self, config) -> bool:
        # its CPU kernels materialise the attention scores; the CUDA provider fuses them
        return not str(config.device).startswith("cuda")
