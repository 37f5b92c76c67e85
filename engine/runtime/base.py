"""The backend-neutral interface every runtime implements."""
from __future__ import annotations

import abc
from typing import Any, Mapping

import numpy as np


class Loader(abc.ABC):
    """Builds or loads a backend object lazily: nothing heavy happens before ``__call__``."""

    @abc.abstractmethod
    def __call__(self) -> Any: ...


class Runner(abc.ABC):
    """Executes one network. Same calls for every backend:

    ``with runner: outputs = runner.infer({"name": array, ...})``

    Inputs and outputs are NumPy arrays keyed by the ONNX graph's tensor names.
    """

    name = "runner"
    model_kind = "graph"  # what the error messages call the network: graph, engine, module
    # True when it runs the module itself (any input shape it takes) rather than an export whose
    # sizes were fixed when it was exported (callers pad to those)
    eager = False

    def __init__(self, loader: Loader):
        self._loader = loader
        self.is_active = False
        # tensor names in the network's order; a backend that reads them from the loaded network
        # sets them in ``_activate_impl``
        self._inputs: list[str] | None = None
        self._outputs: list[str] | None = None

    def activate(self) -> "Runner":
        if not self.is_active:
            self._activate_impl()
            self.is_active = True
        return self

    def deactivate(self) -> None:
        if self.is_active:
            self._deactivate_impl()
            self.is_active = False

    def __enter__(self) -> "Runner":
        return self.activate()

    def __exit__(self, *exc) -> None:
        self.deactivate()

    def infer(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not self.is_active:
            self.activate()
        return self._infer_impl(feed)

    @property
    def input_names(self) -> list[str]:
        if self._inputs is None:
            self.activate()
        return list(self._inputs)

    @property
    def output_names(self) -> list[str]:
        if self._outputs is None:
            self.activate()
        return list(self._outputs)

    def _check_feed(self, feed: Mapping) -> None:
        missing = [n for n in self.input_names if n not in feed]
        if missing:
            raise KeyError(f"missing inputs {missing}; the {self.model_kind} takes {self._inputs}")

    @abc.abstractmethod
    def _activate_impl(self) -> None: ...

    @abc.abstractmethod
    def _infer_impl(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def _deactivate_impl(self) -> None:
        pass
