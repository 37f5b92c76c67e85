"""Run configuration: one dataclass the CLI fills and every stage factory reads.

Stages never read the CLI directly; they take the fields they need from a :class:`RunConfig`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional


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
    # input / output
    input: str = ""
    out: str = ""
    overwrite: bool = False
    # streaming: windows of `window` frames every `stride` frames; offline = whole clip as one window
    window: int = 32
    stride: int = 16
    offline: bool = False
    max_side: int = 960  # inputs larger than this (longest side) are downscaled to work on
    # sampling in time (io/timeline.py): None and None = automatic (24 fps for inputs of 48 fps and up)
    fps: Optional[float] = None  # process at most this many frames per second
    vid_stride: Optional[int] = None  # process every Nth input frame (1: every frame)
    # model set and stages
    models: str = "embedded"  # embedded | official
    tracker: str = "flow"  # flow (embedded, OpenCV DIS) | bootstapir (official)
    motion_model: str = "geometric"  # geometric (default) | learned (our weights) | official (moseg.pth)
    densifier: str = "embedded"  # embedded (edge-aware fill) | sam2
    classifier_checkpoint: Optional[str] = None  # official moseg.pth (key model_state_dict)
    sam2_checkpoint: Optional[str] = None
    sam2_config: str = "sam2.1_hiera_t"
    weights_dir: Optional[str] = None  # where `download` put the official weights
    # runtime
    backend: str = "onnxruntime"  # onnxruntime | trt | torch
    fp16: bool = False
    device: str = "cpu"  # cpu | cuda
    engine_cache: Optional[str] = None  # folder of exported ONNX / built engines (default: user cache)
    threads: Optional[int] = None
    # output
    write_overlay: bool = True
    overlay_size: Optional[str] = None  # "WxH" or the longest side "N"; None: the input's size
    progress: bool = True
    extra: dict = field(default_factory=StageOptions)

    def __post_init__(self):
        if not isinstance(self.extra, StageOptions):  # the same object when it is one: reads stay counted
            self.extra = StageOptions(self.extra or {})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def stage_option(config: RunConfig, defaults: dict, name: str, limits: Optional[dict] = None):
    """``config.extra[name]`` (a ``--option``) as the type of its default, else the default.

    ``limits`` (a stage module's ``LIMITS``) may give the option ``choices``, an inclusive ``minimum``
    / ``maximum``, or ``positive`` (above 0). A value that does not convert (``geo_threshold=abc``,
    ``learned_chunk=2.5``) or breaks its limits is an ``OptionError``: one line on the command line,
    not a traceback from deep inside a stage."""
    from .errors import OptionError

    rule = (limits or {}).get(name, {})
    choices, minimum, maximum = rule.get("choices"), rule.get("minimum"), rule.get("maximum")
    positive = bool(rule.get("positive"))

    default = defaults[name]
    value = config.extra.get(name, default)
    kind = type(default)
    try:
        if kind is bool and isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            out = value.lower() in ("true", "1")
        elif kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        else:
            out = kind(value)
    except (TypeError, ValueError):
        raise OptionError(f"--option {name}={value}: expected {kind.__name__} (default {default!r})") from None
    if choices is not None and out not in choices:
        raise OptionError(f"--option {name}={value}: choose one of {', '.join(map(str, choices))} "
                          f"(default {default!r})")
    if (minimum is not None and out < minimum) or (maximum is not None and out > maximum) or (positive and out <= 0):
        bounds = [f"at least {minimum}"] * (minimum is not None) + [f"at most {maximum}"] * (maximum is not None)
        bounds += ["above 0"] * positive
        raise OptionError(f"--option {name}={value}: must be {' and '.join(bounds)} (default {default!r})")
    return out
