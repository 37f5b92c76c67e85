"""Runs a TensorRT engine with the TensorRT 10+ tensor API (``set_input_shape``,
``set_tensor_address``, ``execute_async_v3``). Device buffers are torch CUDA tensors: torch is
already a dependency, and the GPU pipeline can hand tensors over without a host round trip
(:meth:`TrtRunner.infer_torch`)."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from ...errors import UnavailableError
from ..base import Runner
from .loader import import_tensorrt


def _torch_dtype(trt, dtype):
    import torch

    table = {
        trt.DataType.FLOAT: torch.float32,
        trt.DataType.HALF: torch.float16,
        trt.DataType.INT32: torch.int32,
        trt.DataType.INT8: torch.int8,
        trt.DataType.BOOL: torch.bool,
    }
    for name, tdt in (("INT64", torch.int64), ("UINT8", torch.uint8), ("BF16", torch.bfloat16)):
        if hasattr(trt.DataType, name):
            table[getattr(trt.DataType, name)] = tdt
    if dtype not in table:
        raise TypeError(f"unsupported TensorRT tensor type {dtype}")
    return table[dtype]


class TrtRunner(Runner):
    name = "trt"
    model_kind = "engine"

    def _activate_impl(self) -> None:
        import torch

        self._trt = import_tensorrt(builder=False)
        if not torch.cuda.is_available():
            raise UnavailableError("the TensorRT backend needs a CUDA GPU visible to PyTorch")
        self.engine = self._loader()
        self.context = self.engine.create_execution_context()
        if self.context is None:
            raise RuntimeError("TensorRT could not create an execution context (out of GPU memory?)")
        trt = self._trt
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self._inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self._outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self._dtypes = {n: _torch_dtype(trt, self.engine.get_tensor_dtype(n)) for n in names}
        self.stream = torch.cuda.Stream()

    def _deactivate_impl(self) -> None:
        del self.context
        del self.engine

    def infer_torch(self, feed: Mapping) -> dict:
        """Inputs as torch tensors (any device) -> outputs as CUDA torch tensors (no host copy)."""
        import torch

        if not self.is_active:
            self.activate()
        self._check_feed(feed)
        keep = []  # the engine reads these addresses asynchronously: hold the tensors until sync
        with torch.cuda.stream(self.stream):
            for name in self._inputs:
                t = torch.as_tensor(feed[name]).to(device="cuda", dtype=self._dtypes[name],
                                                   non_blocking=True).contiguous()
                keep.append(t)
                if not self.context.set_input_shape(name, tuple(t.shape)):
                    raise ValueError(f"input {name!r} shape {tuple(t.shape)} is outside the engine's profile")
                self.context.set_tensor_address(name, t.data_ptr())
            outs = {}
            for name in self._outputs:
                shape = tuple(self.context.get_tensor_shape(name))
                if any(d < 0 for d in shape):
                    raise RuntimeError(f"output {name!r} shape {shape} unresolved after setting the inputs")
                outs[name] = torch.empty(shape, dtype=self._dtypes[name], device="cuda")
                self.context.set_tensor_address(name, outs[name].data_ptr())
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError("TensorRT execution failed")
        self.stream.synchronize()
        return outs

    def _infer_impl(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        outs = self.infer_torch({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in feed.items()})
        return {k: (v.float() if v.dtype in (torch.float16, torch.bfloat16) else v).cpu().numpy()
                for k, v in outs.items()}
