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
    def providers(self) -> list[str]:
        self.activate()
        return list(self.session.get_providers())

    def _infer_impl(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._check_feed(feed)
        outs = self.session.run(self._outputs, {n: np.ascontiguousarray(feed[n]) for n in self._inputs})
        return dict(zip(self._outputs, outs))
