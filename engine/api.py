"""The Python API: ``for r in segment(source, **options)`` yields one :class:`~.results.FrameResult`
per frame as the windows complete (latency of one stride), like SAM2's video predictor yields its
propagated masks.

* ``source``: a video file or a frame folder (path), a NumPy array ``[T, H, W, 3]``, or an iterable of
  ``[H, W, 3]`` frames (a live source; ``input_fps=`` gives its rate), RGB uint8;
* ``out=DIR`` also writes the files ``motionseg-trt run`` writes (the same files);
* ``**options``: any :class:`~.config.RunConfig` field (``motion_model="learned"``, ``window=48``,
  ``offline=True`` ...) or stage setting (``geo_outlier_k=3``; ``list_options()`` lists them), checked
  as the command line checks them.

``segment`` opens the input and builds the stages at once, so a bad argument, input or model file
raises before the loop; errors are the typed exceptions of :mod:`motionseg_trt.errors`, worded in
these arguments rather than in the command line's flags.
"""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
import os
import warnings
from typing import Iterator, Optional

from .config import RunConfig
from .errors import InputError, MotionSegError, OptionError

# fields given as segment()'s own parameters, or not settable by keyword
_OWN = ("input", "out", "overwrite", "progress", "extra")
_POSITIVE_INTS = ("window", "stride", "max_side", "threads", "vid_stride")
_SWITCHES = ("offline", "fp16", "write_overlay", "overwrite", "progress")


def segment(source, out: Optional[str] = None, *, overwrite: bool = False, progress: bool = False,
            stages=None, **options) -> "Segmentation":
    """Segment every object that moves on its own in ``source``; iterate the result for the frames.

    ``progress=True`` shows a bar on a terminal, else a line every 10 s on stderr. ``stages``
    replaces the stages the options pick (a :class:`~motionseg_trt.stages.Stages`)."""
    with python_errors():
        config = config_from_arguments(source, out, overwrite=overwrite, progress=progress, options=options)
        return Segmentation(config, stages)


class Segmentation:
    """An opened segmentation: iterate it once for :class:`~.results.FrameResult` s. ``info`` (the
    input's size, working size, fps, frame count when known) is there at once; ``summary`` (what
    ``run.json`` records: frames, objects, fps, per-stage seconds, warnings) after the last frame.
    Leaving the loop early stops the run: files already written stay complete, ``objects.json`` and
    ``run.json`` are not written."""

    def __init__(self, config: RunConfig, stages=None):
        from .pipeline import PipelineRun

        self.config = config
        self._run = PipelineRun(config, stages)
        self.info = self._run.info
        self.summary: Optional[dict] = None
        self._started = False

    def __iter__(self) -> Iterator:
        if self._started:
            raise RuntimeError("a Segmentation is iterated once (a live source cannot be read twice); "
                               "call segment() again")
        self._started = True
        return self._frames()

    def _frames(self):
        from .results import frame_results

        with python_errors(), contextlib.closing(self._run):
            for step in self._run:
                yield from frame_results(step.masks)
            self.summary = self._run.summary
            complete = self.summary["status"] == "complete"
            for warning in self.summary.get("warnings", []):
                if complete or not warning.startswith("decoding stopped"):  # that one is the error below
                    warnings.warn(warning, stacklevel=2)
            if not complete:
                decode = self.summary["decode"]
                raise InputError(f"the input ended early: reading stopped at frame {decode['stopped_at']} "
                                 f"({decode['error']}); frames 0-{decode['frames_decoded'] - 1} were segmented")

    def close(self) -> None:
        """Release the input (and a live source) without running to the end."""
        self._run.close()

    def __enter__(self) -> "Segmentation":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def config_from_arguments(source, out, overwrite: bool = False, progress: bool = False,
                          options: Optional[dict] = None) -> RunConfig:
    """A :class:`RunConfig` from :func:`segment`'s arguments: RunConfig fields by name, every other
    keyword a stage setting; the stages a model set uses unless named."""
    from . import stages
    from .options import check_options, declared_options
    from .runtime.backends import backend_names

    options = dict(options or {})
    names = {f.name for f in dataclasses.fields(RunConfig)} - set(_OWN)
    given = {k: options.pop(k) for k in list(options) if k in names}
    declared = {o.name for _, o in declared_options()}
    for key in options:
        if key not in declared:
            close = difflib.get_close_matches(key, sorted(names | declared), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise OptionError(f"segment() got an unknown argument {key!r}: neither a run setting nor a stage "
                              f"option{hint} (motionseg_trt.list_options() lists the stage options)")
    values = dict(given, overwrite=overwrite, progress=progress)
    for key in _POSITIVE_INTS:
        value = values.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise OptionError(f"{key} must be a positive integer, got {value!r}")
    for key in _SWITCHES:
        if key in values and not isinstance(values[key], bool):
            raise OptionError(f"{key} must be True or False, got {values[key]!r}")
    for key in ("input_fps", "fps"):
        value = values.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not 0 < value < float("inf")):
            raise OptionError(f"{key} must be a positive number, got {value!r}")
    if values.get("fps") is not None and values.get("vid_stride") is not None:
        raise OptionError("give fps or vid_stride, not both")
    if values.get("overlay_size") is not None:
        from .io.sinks.overlay import parse_overlay_size

        try:
            parse_overlay_size(values["overlay_size"])
        except ValueError as exc:
            raise OptionError(str(exc)) from None
    models = given.get("models", RunConfig.models)
    if models not in stages.model_sets():
        raise OptionError(f"models={models!r}: choose one of {', '.join(stages.model_sets())}")
    for field, kind in (("tracker", "tracker"), ("motion_model", "labeller"), ("densifier", "densifier")):
        if given.get(field) is None:
            given[field] = stages.default_stage(kind, models)
    if given.get("backend", RunConfig.backend) not in backend_names():
        raise OptionError(f"backend={given['backend']!r}: choose one of {', '.join(backend_names())}")
    if given.get("device", "cpu") not in ("cpu", "cuda"):
        raise OptionError(f"device={given['device']!r}: choose 'cpu' or 'cuda'")
    window, stride = given.get("window", RunConfig.window), given.get("stride", RunConfig.stride)
    if not given.get("offline") and stride > window:
        raise OptionError(f"stride ({stride}) must not exceed window ({window})")
    config = RunConfig(input=source, out=os.fspath(out) if out else "", overwrite=overwrite, progress=progress,
                       extra=options, **given)
    check_options(config)
    return config


@contextlib.contextmanager
def python_errors():
    """Re-raise the engine's errors (same type, same exit code) in the words of the Python API."""
    try:
        yield
    except MotionSegError as exc:
        from .cli.wording import python_wording

        worded = python_wording(str(exc))
        if worded == str(exc):
            raise
        try:
            again = type(exc)(worded)
        except TypeError:  # an error class with other constructor arguments: keep it as it is
            raise exc from None
        raise again.with_traceback(exc.__traceback__) from None


def list_options() -> str:
    """Every stage setting: name, default, limits, the stage it belongs to, one line of help."""
    from .options import declared_options, format_options

    return format_options(declared_options())
