"""What every runtime backend gives the engine, in one class per backend (``runtime/<name>/backend.py``):
its runner for a graph, its fp16 policy, its device check, and what ``build`` prepares ahead.

Stages never name a backend: they describe their networks (:mod:`.network`) and ask the dispatcher
(:mod:`.dispatch`) for runners; the dispatcher asks the backend that ``--backend`` names
(:mod:`.backends`, the table).
"""
from __future__ import annotations

from typing import Callable, Optional

from ..errors import UnavailableError
from .base import Runner
from .network import Graph

Log = Callable[[str], None]


class Backend:
    name = ""  # the --backend choice (its row in runtime/backends.py)
    title = ""  # what messages call it
    runs_onnx = True  # runs the exported ONNX graph; False: runs the PyTorch module itself
    build_fallback: Optional[str] = None  # what `build` prepares instead when this backend is not installed

    def missing(self, build: bool = False) -> Optional[str]:
        """Why this backend cannot run (``build``: build for) on this machine (one line), or None."""
        return None

    def check_installed(self) -> None:
        reason = self.missing()
        if reason:
            raise UnavailableError(reason)

    def check_device(self, config) -> None:
        """Raise ``UnavailableError`` when ``config.device`` names a device this backend cannot use here
        (asked once, before any stage is built, so that a run never falls back to the CPU unasked)."""

    def holds_attention_matrices(self, config) -> bool:
        """Whether attention runs unfused here, holding [heads, N, N] scores in memory (callers then
        split large inputs into groups that fit)."""
        return False

    def onnx_fp16(self, config) -> bool:
        """Whether the runner reads the float16-typed export (``<name>.fp16.onnx``) or the float32 one."""
        return False

    def runner(self, graph: Graph, config, onnx_path: Optional[str], log: Log) -> Runner:
        """An inactive runner of ``graph`` (``onnx_path`` is its export when ``runs_onnx``)."""
        raise NotImplementedError

    def prepare(self, graph: Graph, config, onnx_path: Optional[str], log: Log) -> None:
        """What ``build`` does ahead of a run (compile an engine, check a session); nothing by default."""
