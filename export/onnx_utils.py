"""Shared helpers for the exporters of the feature networks (DINO, depth): export, fp16, check."""
from __future__ import annotations

import copy
import os
import tempfile
import warnings
from pathlib import Path
from typing import Optional, Sequence

OPSET = 17


def export_module(module, example_inputs: tuple, out_path: str, input_names: Sequence[str],
                  output_names: Sequence[str], dynamic_axes: Optional[dict] = None,
                  opset: int = OPSET, fp16: bool = False) -> str:
    """Export ``module`` with the TorchScript exporter (static except ``dynamic_axes``) and check it.

    ``fp16`` traces the module in half precision behind float32 inputs/outputs, so the graph itself
    carries float16 types: TensorRT 11 is strongly typed (precision comes from the graph, there is no
    FP16 builder flag), and TensorRT 10 / ONNX Runtime run the same file. Callers feed and read
    float32 either way. Writes atomically: a failed export leaves no file.
    """
    import onnx
    import torch

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    module = module.eval()
    if fp16:
        module = HalfPrecision(module)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=str(out_path.parent))
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # shape checks in transformers' code trace to constants, which is what a static graph wants
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            # strided slices (EfficientNet's "same" padding) are left unfolded; the graph is still right
            warnings.filterwarnings("ignore", message="Constant folding - Only steps=1", category=UserWarning)
            torch.onnx.export(module, example_inputs, tmp, input_names=list(input_names),
                              output_names=list(output_names), dynamic_axes=dynamic_axes or {},
                              opset_version=opset, do_constant_folding=True, dynamo=False)
        model = onnx.load(tmp)
        onnx.checker.check_model(model)
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return str(out_path)


def HalfPrecision(module):  # noqa: N802 - a module factory; torch stays a lazy import
    """Wrap ``module`` so that it computes in float16 between float32 inputs and outputs."""
    import torch
    from torch import nn

    class _Half(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = copy.deepcopy(inner).half()  # leave the caller's float32 module intact

        def forward(self, *args):
            outs = self.inner(*[a.half() if torch.is_floating_point(a) else a for a in args])
            if isinstance(outs, (tuple, list)):
                return tuple(o.float() if torch.is_floating_point(o) else o for o in outs)
            return outs.float() if torch.is_floating_point(outs) else outs

    return _Half(module).eval()


def op_types(path: str) -> list[str]:
    """Every node's op type (recursing into subgraphs), for graph inspections in tests and build."""
    import onnx

    found = []

    def walk(graph):
        for node in graph.node:
            found.append(node.op_type)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)
                for g in attr.graphs:
                    walk(g)

    walk(onnx.load(path, load_external_data=False).graph)
    return found
