"""Runs an ONNX Runtime session."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from ..base import Runner


class OnnxrtRunner(Runner):
    name = "onnxruntime"

    def _activate_impl(self) -> None:
        self.session = self._loader()
        self._inputs = [i.name for i in self.session.get_inputs()]
        self._outputs = [o.name for o in self.session.get_outputs()]

    def _deactivate_impl(self) -> None:
        del self.session

    @property
    def input_names(self) -> list[str]:
        self.activate()
        return list(self._inputs)

    @property
    def output_names(self) -> list[str]:
        self.activate()
        return list(self._outputs)

    @property
    def providers(self) -> list[str]:
        self.activate()
        return list(self.session.get_providers())

    def _infer_impl(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = [n for n in self._inputs if n not in feed]
        if missing:
            raise KeyError(f"missing inputs {missing}; the graph takes {self._inputs}")
        outs = self.session.run(self._outputs, {n: np.ascontiguousarray(feed[n]) for n in self._inputs})
        return dict(zip(self._outputs, outs))
