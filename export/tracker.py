"""ONNX export of the BootsTAPIR tracker as two graphs.

* ``bootstapir_features.onnx``: ``frames [F, 256, 256, 3]`` (float, [-1, 1]) -> ``hires [F, 64, 64, 128]``,
  ``lowres [F, 32, 32, 256]`` (unit-norm features). ``F`` is dynamic: run it on any chunk of frames.
* ``bootstapir_track_q{Q}.onnx``: ``hires [T, ...]``, ``lowres [T, ...]``, ``query_points [Q, 3]``
  (t, y, x in pixels of the 256x256 frames) -> ``tracks [Q, T, 2]`` (x, y), ``occlusion [Q, T]``,
  ``expected_dist [Q, T]`` (logits after the 4th PIPs iteration). ``Q`` is fixed at export time (pad the
  last chunk; queries never interact), ``T`` is dynamic.

No 5-D ``grid_sample`` is in either graph (the samplers are gathers, see
:mod:`motionseg_trt.ops.sampling`); :func:`check_graph_ops` asserts it. ``fp16=True`` exports the
networks in half precision with float32 query points and float32 outputs; the features travel between
the graphs in float16.

Stable interface (the tracker stage's network description, ``tracks.bootstapir.predictor.tracker_network``,
exports each graph with it; ``export_tracker`` writes both into a folder)::

    export_tracker_graph(model, part, path, *, query_chunk=256, fp16=False, opset=18, exporter="torchscript")
    export_tracker(model, out_dir, *, query_chunk=256, fp16=False, ...) -> TrackerOnnx(features=Path, track=Path, ...)
    tracker_graphs(model, fp16=False) -> (features module, track module)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

FEATURES_INPUTS = ["frames"]
FEATURES_OUTPUTS = ["hires", "lowres"]
TRACK_INPUTS = ["hires", "lowres", "query_points"]
TRACK_OUTPUTS = ["tracks", "occlusion", "expected_dist"]


@dataclass
class TrackerOnnx:
    features: Path
    track: Path
    query_chunk: int
    fp16: bool
    image_size: int = 256


def tracker_graphs(model, fp16: bool = False):
    """``(features, track)``: the two graphs as modules around ``model`` (what is exported, and what
    the PyTorch backend runs)."""
    import torch

    class FeaturesGraph(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, frames):
            dtype = torch.float16 if fp16 else torch.float32
            return self.net.extract_features(frames.to(dtype))

    class TrackGraph(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, hires, lowres, query_points):
            tracks, occ, expd = self.net.track(hires, lowres, query_points.float())
            return tracks.float(), occ.float(), expd.float()

    return FeaturesGraph(model), TrackGraph(model)


def export_tracker_graph(model, part: str, path: str | os.PathLike, *, query_chunk: int = 256, fp16: bool = False,
                         opset: int = 18, exporter: str = "torchscript", image_size: int = 256,
                         example_frames: int = 2) -> str:
    """Export one graph (``part``: ``features`` or ``track``) of ``model`` (a
    :class:`~motionseg_trt.tracks.bootstapir.modeling.TAPIR`) to ``path``.

    ``exporter``: ``"torchscript"`` (``torch.onnx.export(dynamo=False)``, ~10x faster to export) or
    ``"dynamo"`` (``torch.export`` based). Both give graphs with a dynamic frame axis.
    """
    import copy

    import torch

    if part not in ("features", "track"):
        raise ValueError(f"BootsTAPIR has the graphs 'features' and 'track', not {part!r}")
    if exporter not in ("torchscript", "dynamo"):
        raise ValueError(f"exporter must be 'torchscript' or 'dynamo', got {exporter!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = copy.deepcopy(model).eval().float()
    if fp16:
        net = net.half()
    dtype = torch.float16 if fp16 else torch.float32
    feat_graph, track_graph = tracker_graphs(net, fp16)

    s4, s8 = image_size // 4, image_size // 8
    with torch.no_grad():
        if part == "features":
            frames = torch.zeros(example_frames, image_size, image_size, 3)
            if exporter == "torchscript":
                _export_ts(feat_graph, (frames,), path, FEATURES_INPUTS, FEATURES_OUTPUTS,
                           {"frames": {0: "F"}, "hires": {0: "F"}, "lowres": {0: "F"}}, opset)
            else:
                f_dim = torch.export.Dim("F", min=1, max=100000)
                torch.onnx.export(feat_graph, (frames,), str(path), input_names=FEATURES_INPUTS,
                                  output_names=FEATURES_OUTPUTS, dynamic_shapes={"frames": {0: f_dim}},
                                  dynamo=True, opset_version=opset, verbose=False)
        else:
            # tracing needs only the shapes of the features: unit vectors stand in for a features run
            gen = torch.Generator().manual_seed(0)
            hires = torch.nn.functional.normalize(torch.randn(example_frames, s4, s4, 128, generator=gen), dim=-1)
            lowres = torch.nn.functional.normalize(torch.randn(example_frames, s8, s8, 256, generator=gen), dim=-1)
            hires, lowres = hires.to(dtype), lowres.to(dtype)
            queries = torch.zeros(query_chunk, 3)
            queries[:, 1:] = image_size / 2
            if exporter == "torchscript":
                _export_ts(track_graph, (hires, lowres, queries), path, TRACK_INPUTS, TRACK_OUTPUTS,
                           {"hires": {0: "T"}, "lowres": {0: "T"}, "tracks": {1: "T"}, "occlusion": {1: "T"},
                            "expected_dist": {1: "T"}}, opset)
            else:
                t_dim = torch.export.Dim("T", min=2, max=100000)
                torch.onnx.export(track_graph, (hires, lowres, queries), str(path), input_names=TRACK_INPUTS,
                                  output_names=TRACK_OUTPUTS,
                                  dynamic_shapes={"hires": {0: t_dim}, "lowres": {0: t_dim}, "query_points": None},
                                  dynamo=True, opset_version=opset, verbose=False)
    check_graph_ops(path)
    return str(path)


def export_tracker(model, out_dir: str | os.PathLike, *, query_chunk: int = 256, fp16: bool = False,
                   opset: int = 18, exporter: str = "torchscript", image_size: int = 256,
                   example_frames: int = 2) -> TrackerOnnx:
    """Both graphs of ``model`` into ``out_dir`` (``bootstapir_features[_fp16].onnx``,
    ``bootstapir_track_q{Q}[_fp16].onnx``)."""
    out_dir = Path(out_dir)
    suffix = "_fp16" if fp16 else ""
    paths = {"features": out_dir / f"bootstapir_features{suffix}.onnx",
             "track": out_dir / f"bootstapir_track_q{query_chunk}{suffix}.onnx"}
    for part, path in paths.items():
        export_tracker_graph(model, part, path, query_chunk=query_chunk, fp16=fp16, opset=opset, exporter=exporter,
                             image_size=image_size, example_frames=example_frames)
    return TrackerOnnx(paths["features"], paths["track"], query_chunk, fp16, image_size)


def _export_ts(module, args, path: Path, inputs, outputs, dynamic_axes, opset: int) -> None:
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer chatter about shape arithmetic, deprecation notices
        torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs,
                          dynamic_axes=dynamic_axes, opset_version=opset, dynamo=False,
                          do_constant_folding=True)


def check_graph_ops(path: str | os.PathLike) -> None:
    """Raise if the graph has a GridSample on a 5-D input (TensorRT takes only 4-D)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    if not any(node.op_type == "GridSample" for node in model.graph.node):
        return  # the usual case: our samplers are gathers
    model = onnx.shape_inference.infer_shapes(model)
    ranks = {}
    for vi in list(model.graph.value_info) + list(model.graph.input):
        if vi.type.tensor_type.HasField("shape"):
            ranks[vi.name] = len(vi.type.tensor_type.shape.dim)
    for node in model.graph.node:
        if node.op_type == "GridSample" and ranks.get(node.input[0]) != 4:
            raise RuntimeError(f"{path}: GridSample on a rank-{ranks.get(node.input[0])} input "
                               "(TensorRT takes only 4-D)")
