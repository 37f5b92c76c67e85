"""The one dispatcher: a stage's :class:`~.network.NetworkSpec` -> runners on ``config.backend``, and
the same specs prepared ahead by ``motionseg-trt build``.

Exported graphs live in ``config.engine_cache`` or ``<cache root>/engines`` (``onnx/<graph>.onnx``,
TensorRT engines under ``trt/``); ``build`` fills the same folder, so a run finds what it made. A graph
is exported on first use when ``build`` has not done it, and again (with a one-line notice) when the
cached file does not match the size and sha256 recorded when it was exported (:mod:`.artifacts`).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Optional

from .backends import get_backend
from .base import Runner
from .network import Graph, NetworkSpec

Log = Callable[[str], None]


def artifacts_dir(config) -> Path:
    from ..cache import cache_root

    return Path(config.engine_cache) if getattr(config, "engine_cache", None) else cache_root() / "engines"


def onnx_path_for(config, graph: Graph, fp16: bool) -> Path:
    return artifacts_dir(config) / "onnx" / f"{graph.name}{'.fp16' if fp16 else ''}.onnx"


def ensure_onnx(config, graph: Graph, fp16: bool = False, log: Log = print) -> Path:
    from . import artifacts

    path = onnx_path_for(config, graph, fp16)
    _check_cache_folder(path.parent)
    if path.exists():
        problem = artifacts.problem(path)
        if problem is None:
            return path
        print(f"motionseg-trt: note: the cached ONNX export {path} cannot be trusted ({problem}); exporting it again",
              file=sys.stderr)
    log(f"exporting {graph.name}{' (fp16)' if fp16 else ''} to {path}")
    artifacts.make(path, lambda tmp: graph.export(tmp, fp16))
    return path


def _check_cache_folder(folder: Path) -> None:
    """The artifact folder must be a folder (``--engine-cache FILE`` is exit code 4, in one line)."""
    from ..io.output_dir import check_output_path

    check_output_path(str(folder), "engine cache folder")


def _onnx(backend, config, graph: Graph, log: Log) -> Optional[str]:
    return str(ensure_onnx(config, graph, backend.onnx_fp16(config), log)) if backend.runs_onnx else None


def make_runners(config, spec: NetworkSpec, log: Log = print) -> dict[str, Runner]:
    """``{part: inactive runner}`` for every graph of ``spec`` on ``config.backend``."""
    backend = get_backend(config.backend)
    return {g.part: backend.runner(g, config, _onnx(backend, config, g, log), log) for g in spec.graphs}


def make_runner(config, spec: NetworkSpec, log: Log = print) -> Runner:
    """The runner of a network of one graph."""
    (runner,) = make_runners(config, spec, log).values()
    return runner


def prepare(config, spec: NetworkSpec, log: Log = print) -> list[str]:
    """What ``build`` does for one network: export every graph (or find the export) and let the
    backend prepare it as a run will ask for it; returns the ONNX paths."""
    backend = get_backend(config.backend)
    paths = []
    for graph in spec.graphs:
        path = _onnx(backend, config, graph, lambda m: None)
        backend.prepare(graph, config, path, log)
        paths.append(path)
    return paths
