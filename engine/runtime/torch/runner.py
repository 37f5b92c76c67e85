"""Runs a PyTorch ``nn.Module`` behind the same ``infer(dict) -> dict`` interface as the ONNX
backends: the reference path (``--backend torch``), and fp16 autocast on CUDA."""
from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from ..base import Loader, Runner


class ModuleLoader(Loader):
    """``factory() -> nn.Module`` (float32), put in eval mode on ``device``."""

    def __init__(self, factory: Callable[[], object], device: str = "cpu"):
        self.factory = factory
        self.device = device

    def __call__(self):
        module = self.factory()
        return module.eval().to(self.device)


class TorchRunner(Runner):
    name = "torch"
    model_kind = "module"
    eager = True  # runs the module itself: any input shape it takes (no static sizes of an export)

    def __init__(self, loader: Loader, input_names: Sequence[str], output_names: Sequence[str],
                 device: str = "cpu", fp16: bool = False, threads: Optional[int] = None):
        super().__init__(loader)
        self._inputs = list(input_names)
        self._outputs = list(output_names)
        self.device = device
        # fp16 through autocast on CUDA only: CPU half kernels are slow or missing
        self.fp16 = bool(fp16) and str(device).startswith("cuda")
        self.threads = threads  # torch's CPU threads while it runs (--threads), restored after

    def _activate_impl(self) -> None:
        self.module = self._loader()

    def _deactivate_impl(self) -> None:
        del self.module

    def infer_torch(self, feed: Mapping) -> dict:
        """Torch tensors in (any device), torch tensors out (on the runner's device)."""
        import torch

        if not self.is_active:
            self.activate()
        self._check_feed(feed)
        args = [torch.as_tensor(feed[n]).to(self.device) for n in self._inputs]
        previous = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(int(self.threads))
        try:
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=self.fp16):
                outs = self.module(*args)
        finally:
            if self.threads:
                torch.set_num_threads(previous)
        if not isinstance(outs, (tuple, list)):
            outs = (outs,)
        if len(outs) != len(self._outputs):
            raise RuntimeError(f"module returned {len(outs)} outputs, expected {self._outputs}")
        return dict(zip(self._outputs, outs))

    def _infer_impl(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        outs = self.infer_torch({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in feed.items()})
        return {k: (v.float() if v.is_floating_point() else v).cpu().numpy() for k, v in outs.items()}
