"""Run configuration: one dataclass the CLI fills and every stage factory reads.

Stages never read the CLI directly; they take the fields they need from a :class:`RunConfig`.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Optional

from .runtime.backends import DEFAULT_BACKEND


class StageOptions(dict):
    """``RunConfig.extra``: a dict that remembers which keys the stages asked for, so that a run can
    name the ``--option`` that nothing read (a misspelt key would otherwise change nothing, silently)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked: set = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.asked.add(key)
        return super().__contains__(key)

    def unread(self) -> list:
        """The keys given that no stage has asked for (so far)."""
        return [k for k in self.keys() if k not in self.asked]


@dataclass
class RunConfig:
    # input / output: a path (video file, frame folder), or through the Python API a NumPy array
    # [T, H, W, 3] or an iterable of [H, W, 3] RGB uint8 frames
    input: Any = ""
    out: str = ""
    overwrite: bool = False
    # streaming: windows of `window` frames every `stride` frames; offline = whole clip as one window
    window: int = 32
    stride: int = 16
    offline: bool = False
    max_side: int = 960  # inputs larger than this (longest side) are downscaled to work on
    input_fps: Optional[float] = None  # frame rate of inputs that carry none (frame folders, arrays); 24
    # sampling in time (io/timeline.py): None and None = automatic (24 fps for inputs of 48 fps and up)
    fps: Optional[float] = None  # process at most this many frames per second
    vid_stride: Optional[int] = None  # process every Nth input frame (1: every frame)
    # model set and stages
    models: str = "embedded"  # embedded | official
    # the stage of each kind (names from the stage registry, motionseg_trt.stages)
    tracker: str = "flow"  # flow (embedded, OpenCV DIS) | bootstapir (official)
    features: Optional[str] = None  # None: what the labeller / densifier needs, else the model set's default
    motion_model: str = "geometric"  # geometric (default) | learned (our weights) | official (moseg.pth)
    densifier: str = "embedded"  # embedded (edge-aware fill) | sam2
    classifier_checkpoint: Optional[str] = None  # official moseg.pth (key model_state_dict)
    sam2_checkpoint: Optional[str] = None
    sam2_config: str = "sam2.1_hiera_t"
    weights_dir: Optional[str] = None  # where `download` put the official weights
    # runtime
    backend: str = DEFAULT_BACKEND  # a row of motionseg_trt.runtime.backends: onnxruntime | trt | torch
    fp16: bool = False
    device: str = "cpu"  # cpu | cuda
    engine_cache: Optional[str] = None  # folder of exported ONNX / built engines (default: user cache)
    threads: Optional[int] = None
    # output
    write_overlay: bool = True
    overlay_size: Optional[str] = None  # "WxH" or the longest side "N"; None: the input's size
    progress: bool = True
    extra: dict = field(default_factory=StageOptions)  # --option KEY=VALUE, declared in motionseg_trt.options

    def __post_init__(self):
        if not isinstance(self.extra, StageOptions):  # the same object when it is one: reads stay counted
            self.extra = StageOptions(self.extra or {})

    def to_dict(self) -> dict:
        """Plain values (``run.json``): an in-memory input is described, not copied."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["extra"] = dict(dict.items(self.extra))  # not through get(): reading is not asking
        if not isinstance(self.input, (str, os.PathLike)):
            from .io.arrays import describe

            out["input"] = describe(self.input)
        else:
            out["input"] = os.fspath(self.input)
        return out
