"""Export the trajectory classifier to ONNX (dynamic batch, tracks N and frames T; opset 18).

As a function::

    from motionseg_trt.export.classifier import export_classifier
    export_classifier(model, "classifier.onnx", fp16=False)

As a script::

    python -m motionseg_trt.export.classifier --checkpoint moseg.pth --out classifier.onnx [--fp16]

Graph: inputs are the model's ``input_names`` (``traj [B,N,T,2]``, ``mask [B,N,T]``, ``depth [B,N,T]``,
``visib_value``/``confi_value [B,N,T]``, ``dino [B,N,768]`` for the official configuration, float32),
outputs ``logits [B,N]`` and ``prob [B,N]`` (float32). The feature construction (frequency encoding,
gated differences) is inside the graph; depth/DINO sampling is not (it is cheap gather work done in
``preprocess``). Attention is MatMul-Add-Softmax-MatMul, which TensorRT fuses into one kernel.

Exporter: torch 2.13's ``torch.onnx.export`` defaults to the torch.export-based (dynamo) exporter. It
gives a clean graph (no shape-arithmetic noise) with symbolic N and T, so it is used here; the legacy
TorchScript exporter (``dynamo=False``) traced this model into a graph with wrong numbers in our test,
so it is not offered.

fp16: the network is exported in half precision with float32 inputs/outputs (casts at the graph edges),
so runtimes that lack fp16 kernels for some op still see the same interface.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from typing import Optional

OPSET = 18
OUTPUT_NAMES = ("logits", "prob")


def _wrapper(model, fp16: bool):
    from motionseg_trt.motion.classifier.modeling import ClassifierGraph

    return ClassifierGraph(model.float().eval(), half=fp16).eval()


def example_inputs(model, n: int = 64, t: int = 8, batch: int = 2):
    """Random float32 inputs of the right shapes (tracing; values do not matter). Sizes above 1 keep
    torch.export from specialising an axis to 1."""
    import torch

    g = torch.Generator().manual_seed(0)
    shapes = {"traj": (batch, n, t, 2), "mask": (batch, n, t), "depth": (batch, n, t), "visib_value": (batch, n, t),
              "confi_value": (batch, n, t), "dino": (batch, n, model.config.dino_dim)}
    out = []
    for name in model.input_names:
        x = torch.rand(shapes[name], generator=g)
        if name == "traj":
            x = x * 2 - 1
        if name == "mask":
            x = (x > 0.7).float()
        out.append(x)
    return tuple(out)


def export_classifier(model, path: str, fp16: bool = False, opset: int = OPSET, verbose: bool = False) -> str:
    """Write ``model`` (a ``TrajectoryClassifier``) to ``path`` as ONNX with dynamic B, N, T. Returns path.

    The model is copied, so the caller's module keeps its dtype and mode."""
    import copy
    import contextlib
    import io

    import torch

    if opset < 17:
        raise ValueError("opset >= 17 is required (LayerNormalization)")
    net = _wrapper(copy.deepcopy(model).cpu(), fp16)
    names = list(model.input_names)
    batch, tracks, frames = torch.export.Dim("B"), torch.export.Dim("N"), torch.export.Dim("T")
    dynamic = {}
    for name in names:
        axes = {0: batch, 1: tracks}
        if name != "dino":
            axes[2] = frames
        dynamic[name] = axes
    args = example_inputs(model)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    # the exporter prints progress lines; keep them unless asked for
    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    # "skipping constant folding for Split", "torchvision is not installed. Skipping torchvision::nms":
    # harmless, noisy (a user's first `run --motion-model learned` exports this graph)
    noisy = [logging.getLogger(name) for name in ("onnxscript", "torch.onnx._internal.exporter._registration")]
    levels = [log.level for log in noisy]
    if not verbose:
        for log in noisy:
            log.setLevel(logging.ERROR)
    try:
        with quiet, torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # exporter deprecation chatter, not about this model
            # torch.export first, on its own: it fails loudly if an axis would be specialised, where
            # torch.onnx.export would silently fall back to a less strict trace
            program = torch.export.export(net, args, dynamic_shapes=(tuple(dynamic[n] for n in names),))
            torch.onnx.export(program, args, tmp, input_names=names, output_names=list(OUTPUT_NAMES),
                              opset_version=opset, dynamo=True, external_data=False, verbose=verbose)
        _name_dynamic_axes(tmp, names)
        os.replace(tmp, path)  # atomic: a half-written graph never looks complete
    finally:
        for log, level in zip(noisy, levels):
            log.setLevel(level)
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _name_dynamic_axes(path: str, names: list[str]) -> None:
    """torch.export calls the symbolic sizes s0, s1, ...: name them B, N, T everywhere in the graph."""
    import onnx

    model = onnx.load(path)
    rename = {}
    for value in model.graph.input:
        if value.name in names:
            for axis, dim in enumerate(value.type.tensor_type.shape.dim):
                if dim.dim_param and axis < (2 if value.name == "dino" else 3):
                    rename[dim.dim_param] = "BNT"[axis]
    for value in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in rename:
                dim.dim_param = rename[dim.dim_param]
    onnx.save(model, path)


def _main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m motionseg_trt.export.classifier", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True, help="moseg.pth (official), a state dict, or our .safetensors")
    p.add_argument("--out", required=True, help="ONNX file to write")
    p.add_argument("--fp16", action="store_true", help="export the network in half precision")
    p.add_argument("--opset", type=int, default=OPSET)
    a = p.parse_args(argv)
    from motionseg_trt.errors import MotionSegError
    from motionseg_trt.motion.classifier.checkpoint import load_classifier

    try:
        model = load_classifier(a.checkpoint)
    except MotionSegError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    export_classifier(model, a.out, fp16=a.fp16, opset=a.opset)
    print(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
