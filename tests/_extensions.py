"""Small real extensions, each written the way a newcomer would add one (tests/test_extending.py
registers them with one row each):

* ``SpeedLabeller``: a motion labeller (one module + one row in ``motionseg_trt.stages.STAGES``);
* ``CountingOnnxruntime``: a runtime backend wrapping ONNX Runtime (its loader, its runner, its
  ``Backend``; one row in ``motionseg_trt.runtime.backends.BACKENDS``);
* ``AreasCsvSink``: an output format, per frame the area of every object (one ``Sink`` class + one
  row in ``motionseg_trt.io.sinks.SINKS``).
"""
from __future__ import annotations

import os

import numpy as np

from motionseg_trt.contracts import MotionLabels
from motionseg_trt.io.atomic import atomic_path, remove_temp_files
from motionseg_trt.io.sinks.base import Sink
from motionseg_trt.options import Option, read_options
from motionseg_trt.runtime.backend import Backend
from motionseg_trt.runtime.onnxruntime import OnnxrtRunner, SessionFromOnnx


class SpeedLabeller:
    """A track moves when its median speed over the window exceeds ``speed_px`` px per frame (no
    camera model: a pan moves everything)."""

    OPTIONS = (Option("speed_px", 1.0, "median px per frame above which a track moves", positive=True),)

    def __init__(self, config):
        self.speed_px = read_options(config, self.OPTIONS)["speed_px"]

    def label(self, window, tracks, features) -> MotionLabels:
        step = np.linalg.norm(np.diff(tracks.xy, axis=1), axis=-1)  # [N, T-1]
        seen = tracks.visible[:, 1:] & tracks.visible[:, :-1]
        speed = np.array([np.median(s[v]) if v.any() else 0.0 for s, v in zip(step, seen)], np.float32)
        prob = (speed / (speed + self.speed_px)).astype(np.float32)
        return MotionLabels(prob=prob, moving=prob > 0.5, threshold=0.5)


class CountingRunner(OnnxrtRunner):
    """ONNX Runtime's runner, counting its calls (so a test can see that the run went through it)."""

    name = "counting-onnxruntime"
    calls = 0

    def _infer_impl(self, feed):
        CountingRunner.calls += 1
        return super()._infer_impl(feed)


class CountingOnnxruntime(Backend):
    name = "counting-ort"
    title = "counting ONNX Runtime"

    def runner(self, graph, config, onnx_path, log):
        return CountingRunner(SessionFromOnnx(onnx_path, intra_op_threads=config.threads))

    def prepare(self, graph, config, onnx_path, log):
        CountingRunner(SessionFromOnnx(onnx_path)).activate()


class AreasCsvSink(Sink):
    """``areas.csv``: one line per frame, ``frame,id:area id:area ...`` at the input's size."""

    file_names = ("areas.csv",)

    def __init__(self, out_dir, info, config):
        super().__init__(out_dir, info, config)
        self.lines = ["frame,areas"]

    def write(self, frames, masks) -> None:
        for i in range(len(masks.labels)):
            counts = np.bincount(masks.at_input_size(i).ravel(), minlength=1)
            areas = " ".join(f"{k}:{int(n)}" for k, n in enumerate(counts) if k and n)
            self.lines.append(f"{masks.start + i},{areas}")

    def finish(self, run_info) -> dict:
        path = os.path.join(self.out_dir, "areas.csv")
        with atomic_path(path) as tmp:
            with open(tmp, "w") as f:
                f.write("\n".join(self.lines) + "\n")
        return {"areas": path}

    def abort(self) -> None:
        remove_temp_files(self.out_dir)
