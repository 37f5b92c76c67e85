"""How a stage describes its networks to the runtime layer, once, for ``run`` and ``build`` alike.

A :class:`NetworkSpec` is one network as ``build --only`` names it (``tracker``, ``dino``, ``sam2``
...). It may hold several graphs (:class:`Graph`): BootsTAPIR has two (per-frame features, tracking),
SAM2 four parts. Each graph says how to export itself to ONNX, how to build the PyTorch module it
came from, its tensor names and its TensorRT shape profiles; the dispatcher
(:mod:`.dispatch`) turns it into a runner on the configured backend.

Describing a network is cheap: what needs weights or PyTorch (the module, the export) is a callable,
and the graphs themselves are listed only when asked for (``spec.graphs``), so that ``build --only
dino`` never resolves SAM2's weights.
"""
from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Union

Profiles = Optional[dict]  # TensorRT {input: (min, opt, max)} or a list of them


@dataclass
class Graph:
    name: str  # unique file stem and engine-cache name: network, variant, sizes, weights identity
    part: str  # its key within the network ("features", "track", "image_encoder"; the network's name if alone)
    input_names: Sequence[str]
    output_names: Sequence[str]
    export: Callable[[str, bool], str]  # (onnx_path, fp16) -> onnx_path
    module: Callable[[], object]  # -> float32 torch module (eval mode) computing the same graph
    profiles: Union[Profiles, Callable[[], Profiles]] = None  # a callable when it needs the model
    info: dict = field(default_factory=dict)

    def shape_profiles(self) -> Profiles:
        return self.profiles() if callable(self.profiles) else self.profiles


@dataclass
class NetworkSpec:
    """One network of a stage: ``describe()`` lists its graphs (called once, when they are needed)."""

    name: str
    describe: Callable[[], Sequence[Graph]]
    note: str = ""

    @functools.cached_property
    def graphs(self) -> list[Graph]:
        return list(self.describe())

    def graph(self, part: Optional[str] = None) -> Graph:
        graphs = self.graphs
        if part is None and len(graphs) == 1:
            return graphs[0]
        for g in graphs:
            if g.part == part:
                return g
        raise KeyError(f"network {self.name} has no graph {part!r}; it has {[g.part for g in graphs]}")


def single(name: str, graph: Callable[[], Graph], note: str = "") -> NetworkSpec:
    """A network of one graph."""
    return NetworkSpec(name, lambda: [graph()], note)


def once(fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` called at most once (a model shared by the graphs of one network, built on first use)."""
    return functools.lru_cache(maxsize=1)(fn)


def weights_tag(weights: Optional[str], seed: Optional[int] = 0) -> str:
    """A short id of the weights a graph bakes in (path, size, mtime: cheap, changes when the file does)."""
    if weights is None:
        return f"random{seed}"
    st = os.stat(weights)
    ident = f"{os.path.abspath(weights)}|{st.st_size}|{int(st.st_mtime)}"
    return hashlib.sha256(ident.encode()).hexdigest()[:10]
