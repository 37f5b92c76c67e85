"""Runs the classifier on prepared inputs, either a PyTorch module or an exported graph behind the
runtime layer (ONNX Runtime, TensorRT). Networks stay in ``modeling``; this is the glue both the
official labeller and our own learned labeller use.

    predictor = ClassifierPredictor(model)            # a TrajectoryClassifier (eval mode)
    predictor = ClassifierPredictor(runner)           # a motionseg_trt.runtime.Runner of the exported graph
    prob, logits = predictor.predict(model_inputs)    # ModelInputs (preprocess) -> [N], [N] float32
    prob, logits = predictor.predict_feed(feed)       # batched arrays {name: [B, ...]} -> [B, N], [B, N]
"""
from __future__ import annotations

import sys
from typing import Mapping, Optional

import numpy as np


class ClassifierPredictor:
    def __init__(self, model_or_runner, input_names: Optional[list[str]] = None, threads: Optional[int] = None):
        self.network = model_or_runner
        self.threads = threads
        self._is_torch = _is_torch_module(model_or_runner)
        # a TrajectoryClassifier and a Runner both say which inputs they take
        self.input_names = list(input_names if input_names is not None else model_or_runner.input_names)

    @property
    def kind(self) -> str:
        return "torch" if self._is_torch else getattr(self.network, "name", "runner")

    def predict(self, inputs) -> tuple[np.ndarray, np.ndarray]:
        """One clip: :class:`~.preprocess.ModelInputs` -> ``(prob [N], logits [N])`` float32."""
        if inputs.num_tracks == 0:
            empty = np.zeros(0, np.float32)
            return empty, empty
        prob, logits = self.predict_feed(inputs.feed(self.input_names))
        return prob[0], logits[0]

    def predict_feed(self, feed: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        if self._is_torch:
            return self._run_torch(feed)
        out = self.network.infer({n: np.ascontiguousarray(feed[n], dtype=np.float32) for n in self.input_names})
        logits = np.asarray(out["logits"], np.float32)
        prob = np.asarray(out["prob"], np.float32) if "prob" in out else _sigmoid(logits)
        return prob, logits

    def _run_torch(self, feed):
        import torch

        model = self.network
        device = next(model.parameters()).device
        dtype = next(model.parameters()).dtype
        tensors = {n: torch.from_numpy(np.ascontiguousarray(feed[n], dtype=np.float32)).to(device, dtype)
                   for n in self.input_names}
        prev = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(int(self.threads))
        try:
            with torch.inference_mode():
                logits = model(**tensors).float()
                prob = torch.sigmoid(logits)
        finally:
            if self.threads:
                torch.set_num_threads(prev)
        return prob.cpu().numpy(), logits.cpu().numpy()


def _is_torch_module(obj) -> bool:
    # a module can only exist once torch is imported: never import it just to ask (a runner of an
    # exported graph needs no torch)
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)
