"""The streaming orchestrator: decode -> tracks -> features -> motion labels -> masks -> object
filter -> every input frame -> writers, one window at a time.

The timeline (:mod:`.io.timeline`) chooses the frames the stages see (sampling in time, repeats, scene
cuts); at a cut every stage with a ``reset()`` forgets the previous scene. The object filter
(:mod:`.masks.objects`) keeps only objects with evidence and numbers them 1..K; then every input
frame the stages did not see gets the mask of the processed frame before it (:mod:`.io.every_frame`).

:class:`PipelineRun` is the loop: opening it reads the input and builds the stages, iterating it
yields the masks of the input frames each window makes final (and writes the outputs when the run has
an output folder). ``run_pipeline(config)`` (the CLI) runs it to the end and returns the summary (also
stored in ``run.json``); :func:`motionseg_trt.segment` (the Python API) turns its steps into per-frame
results. The output folder is claimed (locked: one run per folder) once the input is open, but nothing
is written into it, and no previous result removed, until the first masks are ready: a bad input, a
missing model or an interrupt during start-up leaves it as it was (:mod:`.io.output_dir`).
"""
from __future__ import annotations

import os
import platform
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np

from . import __version__
from .config import RunConfig, StageOptions
from .contracts import FrameWindow, MotionLabels, Tracks, WindowMasks
from .io.decode import open_frames
from .faults import fault_point
from .interrupts import deferred
from .io.output_dir import OutputFolder, check_output_dir
from .io.windows import VideoSource, validate_window
from .io.background import BackgroundWriter
from .io.every_frame import EveryFrame
from .io.sinks.base import OutputMasks
from .io.timeline import Timeline
from .io.writers import OutputWriter
from .masks.objects import ObjectFilter
from .options import ENGINE_OPTIONS, check_options, read_option
from .progress import NoProgress, make_progress, stage_fps
from .stages import Stages, build_stages, chosen, runtime_warnings

# "write" is the writer thread's busy time; "write_wait" the time the stages waited for it
STAGE_NAMES = ("decode", "tracks", "features", "motion", "masks", "write", "write_wait")


class StageClock:
    """Wall-clock seconds per stage, summed over windows."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)

    def run(self, name: str, fn, *args):
        t = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.seconds[name] += time.perf_counter() - t

    def as_dict(self) -> dict[str, float]:
        return {name: round(self.seconds.get(name, 0.0), 4) for name in STAGE_NAMES}


def check_masks(window: FrameWindow, masks: WindowMasks, work_hw: tuple[int, int]) -> WindowMasks:
    """The densifier's output must cover exactly the frames the window emits."""
    emit = window.emit_range
    labels = np.asarray(masks.labels)
    expected = (len(emit),) + tuple(work_hw)
    if masks.start != emit.start or labels.shape != expected:
        raise RuntimeError(f"densifier returned masks for frames {masks.start}.. with shape {labels.shape}; "
                           f"window {window.index} emits frames {emit.start}..{emit.stop - 1} "
                           f"(expected shape {expected})")
    if labels.dtype != np.uint8 and not (
            labels.dtype == bool or (np.issubdtype(labels.dtype, np.integer) and labels.min() >= 0
                                     and labels.max() <= 255)):
        raise RuntimeError(f"densifier returned labels of dtype {labels.dtype}; expected uint8")
    # a copy: the writer thread reads it while the densifier may reuse its buffers
    labels = np.array(labels, dtype=np.uint8, copy=True)
    return WindowMasks(start=masks.start, labels=labels, object_ids=list(masks.object_ids))


def reset_stages(stages) -> None:
    """A scene cut: every stage that keeps state across windows forgets it."""
    for stage in stages:
        reset = getattr(stage, "reset", None)
        if callable(reset):
            reset()


def stage_warnings(*parts) -> list[str]:
    """What the stages (and the object filter) want the user to know, from their ``warnings()``."""
    out = []
    for part in parts:
        warn = getattr(part, "warnings", None)
        if callable(warn):
            out.extend(warn())
    return out


def package_versions() -> dict[str, Optional[str]]:
    """Versions from the installed metadata: importing torch just to read its version costs seconds."""
    from importlib import metadata

    versions: dict[str, Optional[str]] = {"motionseg_trt": __version__, "python": platform.python_version()}
    for key, dist in (("torch", "torch"), ("onnxruntime", "onnxruntime"), ("av", "av"),
                      ("cv2", "opencv-python-headless"), ("numpy", "numpy"), ("pillow", "pillow")):
        try:
            versions[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[key] = None
    if versions["cv2"] is None:
        try:
            import cv2

            versions["cv2"] = cv2.__version__
        except ImportError:
            pass
    if versions["onnxruntime"] is None:  # GPU builds ship as onnxruntime-gpu
        try:
            versions["onnxruntime"] = metadata.version("onnxruntime-gpu")
        except metadata.PackageNotFoundError:
            pass
    return versions


@dataclass
class Emitted:
    """One step of a run: the masks of the input frames that are now final (:class:`OutputMasks`:
    consecutive input frames from ``masks.start``, final object ids and scores, working-resolution
    labels, ``at_input_size(i)``), and the window, tracks and motion labels whose processing let them
    out. The object filter holds frames back until their objects have shown enough evidence, so the
    masks are of earlier frames than the window's newest, maybe none; the last step, at the end of
    the video, has no window (None)."""

    window: Optional[FrameWindow]
    tracks: Optional[Tracks]
    labels: Optional[MotionLabels]
    masks: OutputMasks


class PipelineRun:
    """A run, opened: the input read, the stages built, nothing written yet (the errors of a bad
    input, a bad option or a missing model are raised here). Iterating it runs the windows, hands
    each step's masks to the writers when ``config.out`` is set, and yields it (:class:`Emitted`);
    then :attr:`summary` holds what ``run.json`` records. :func:`run_pipeline` (the CLI) and the
    Python API (:func:`motionseg_trt.segment`) are both this loop."""

    def __init__(self, config: RunConfig, stages: Optional[Stages] = None, label: Optional[str] = None):
        self.t_start = time.perf_counter()
        self.config = config
        # a misspelt or impossible --option fails before anything is opened or written
        check_options(config, [(type(s).__name__, getattr(s, "OPTIONS", ())) for s in stages or ()])
        if stages is None:
            chosen(config)  # a model-set combination that cannot work: exit code 2, before anything is opened
        if not config.offline:
            validate_window(config.window, config.stride)
        if config.out:
            check_output_dir(config.out, config.overwrite)  # creates nothing
        if config.threads:
            import cv2

            cv2.setNumThreads(int(config.threads))
        self.clock = StageClock()
        self._closed = False
        self.folder: Optional[OutputFolder] = None
        self.reader = self.clock.run("decode", open_frames, config.input, config.max_side, config.threads,
                                     config.input_fps)
        self.info = self.reader.info
        self.label = label or os.path.basename(str(self.info.path).rstrip("/")) or "input"
        self.progress = NoProgress()
        try:
            if config.out:
                # after the input is open: a bad input (or one that blocks, a FIFO with no writer) never
                # touches OUT; the lock is held until close()
                self.folder = OutputFolder(config.out, config.overwrite).claim()
                fault_point("after-lock")
            # these read their options first: a bad one fails before a stage exports a graph (seconds)
            self.timeline = Timeline(self.reader, config)
            self.objects = ObjectFilter(config)
            # before the stages: building them may export graphs for minutes
            self.progress = make_progress(config, self.label, self.info.num_frames)
            t_build = time.perf_counter()
            self.stages = stages if stages is not None else build_stages(config)
            self.build_seconds = time.perf_counter() - t_build
        except BaseException:
            self.close()
            raise
        self.summary: Optional[dict] = None
        self.num_windows = 0

    def __enter__(self) -> "PipelineRun":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the progress display, release the output folder (unlocked; what the claim created is
        removed again if no result was written) and close the input (a live source's generator too);
        once, and not cut short by a signal."""
        if not self._closed:
            self._closed = True
            with deferred():
                self.progress.close()
                if self.folder is not None:
                    self.folder.release()
                self.reader.close()
                for stage in getattr(self, "stages", None) or ():
                    if hasattr(stage, "close"):  # worker threads of its own
                        stage.close()

    def __iter__(self) -> Iterator[Emitted]:
        config, clock = self.config, self.clock
        writer = None
        source = VideoSource(self.timeline, config.window, config.stride, config.offline,
                             prefetch=read_option(config, ENGINE_OPTIONS, "prefetch_frames"))
        try:
            fault_point("before-first-frame")
            if self.folder is not None:
                # background_writer=false writes on the main thread (A/B timing of the worker threads)
                pending = 2 if read_option(config, ENGINE_OPTIONS, "background_writer") else 0
                # nothing is written, and no previous result removed, before the first masks
                writer = BackgroundWriter(OutputWriter(config.out, self.info, config, folder=self.folder),
                                          max_pending=pending)
            # a source in memory is read once: the overlay draws on the frames the reader keeps for it
            pictures = writer is not None and writer.shows_pictures and self.reader.keep_pictures()
            handed = 0
            for step in self._steps(source):
                if writer is not None:
                    shown = self.reader.kept_pictures(len(step.masks.labels)) if pictures else None
                    clock.run("write_wait", writer.write, shown, step.masks)
                    if not handed and len(step.masks.labels):  # the object filter may hold the first windows
                        fault_point("after-first-window")
                    handed += len(step.masks.labels)
                self.progress.update(len(step.masks.labels))
                yield step
            if writer is not None:
                clock.run("write_wait", writer.drain)
                clock.seconds["write"] = writer.busy_seconds
            self.summary, run_info = self._summary()
            if writer is not None:
                with deferred():  # objects.json and run.json: both or neither (a signal waits for them)
                    self.summary["outputs"] = writer.finish(run_info)
        except BaseException:  # an error, a signal, or the caller leaving the loop (GeneratorExit)
            with deferred():  # clean-up a second signal must not cut short
                source.close()
                if writer is not None:
                    writer.abort()
            raise
        finally:
            with deferred():
                source.close()
            self.close()

    def _steps(self, source: VideoSource) -> Iterator[Emitted]:
        """Each window's final frames, then those the object filter still held and the input frames
        after the last processed one (the end of the video)."""
        clock, every = self.clock, EveryFrame(self.info)
        for window, tracks, labels, masks in self._windows(source):
            final = clock.run("masks", self.objects.add, window, tracks, labels, masks)
            yield Emitted(window, tracks, labels, every.masks(final))
        final = clock.run("masks", self.objects.flush)
        yield Emitted(None, None, None, every.masks(final, end=self.reader.status.frames_decoded))

    def _windows(self, source: VideoSource) -> Iterator[tuple]:
        """(window, tracks, motion labels, masks) of each window, in order; stages reset at a cut.

        The labeller and the densifier of a window run on a worker thread while the main thread decodes
        and tracks the next one (``overlap_stages``): the tracker is the longest stage, and on two cores
        the second one would otherwise wait. Each stage still sees its windows one at a time, in order.
        """
        from concurrent.futures import ThreadPoolExecutor

        clock, stages = self.clock, self.stages
        windows = iter(source)
        scene = 0
        overlap = read_option(self.config, ENGINE_OPTIONS, "overlap_stages")
        pending = None  # (window, tracks, future of (labels, masks))
        worker = ThreadPoolExecutor(1, thread_name_prefix="masks") if overlap else None
        try:
            while True:
                window = clock.run("decode", next, windows, None)
                if window is None:
                    break
                self.num_windows += 1
                cut = window.scene != scene
                scene = window.scene
                if cut:  # the labeller and densifier reset in their own turn, after the previous window
                    reset_stages([stages.tracker, stages.features])
                if hasattr(stages.features, "begin"):  # its networks may run while the tracker does
                    clock.run("features", stages.features.begin, window)
                tracks = clock.run("tracks", stages.tracker.track, window)
                feats = clock.run("features", stages.features.extract, window, tracks)
                if worker is None:
                    yield window, tracks, *self._labels_and_masks(window, tracks, feats, cut)
                    continue
                future = worker.submit(self._labels_and_masks, window, tracks, feats, cut)
                if pending is not None:
                    yield pending[0], pending[1], *pending[2].result()
                pending = (window, tracks, future)
            if pending is not None:
                yield pending[0], pending[1], *pending[2].result()
        finally:
            if worker is not None:
                worker.shutdown(wait=True, cancel_futures=True)

    def _labels_and_masks(self, window: FrameWindow, tracks: Tracks, feats, cut: bool) -> tuple:
        clock, stages, info = self.clock, self.stages, self.info
        if cut:
            reset_stages([stages.labeller, stages.densifier])
        labels = clock.run("motion", stages.labeller.label, window, tracks, feats)
        masks = clock.run("masks", stages.densifier.densify, window, tracks, labels, feats)
        return labels, check_masks(window, masks, (info.work_height, info.work_width))

    def _summary(self) -> tuple[dict, dict]:
        """The summary (returned, and printed by the CLI) and the run's record (``run.json``)."""
        config, clock, status = self.config, self.clock, self.reader.status
        total = time.perf_counter() - self.t_start
        frames = status.frames_decoded
        report = self.timeline.report
        summary = {
            "status": "complete" if status.complete else "input-incomplete",
            "out": config.out,
            "frames": frames,
            "frames_processed": report.frames_processed,
            "objects": self.objects.num_objects,
            "scenes": len(report.cuts) + 1,
            "windows": self.num_windows,
            "seconds": {**clock.as_dict(), "build": round(self.build_seconds, 4), "total": round(total, 4)},
            "fps": round(frames / total, 3) if total > 0 else None,
            "fps_stages": _stage_fps(frames, clock),
            "fps_per_stage": stage_fps(frames, clock.seconds, self.num_windows),
            "warnings": (run_warnings(config, status) + stage_warnings(*self.stages, self.objects)
                         + runtime_warnings(config, self.stages)),
            "decode": status.to_dict(),
        }
        run_info = {
            **summary,
            "input": vars(self.info).copy(),
            "timeline": report.to_dict(),
            "object_filter": self.objects.report(),
            "mode": "offline" if config.offline else "streaming",
            "config": config.to_dict(),
            "versions": package_versions(),
            "machine": {"platform": platform.platform(), "processor": platform.machine()},
        }
        return summary, run_info


def run_pipeline(config: RunConfig, stages: Optional[Stages] = None) -> dict:
    """Segment the moving objects of ``config.input`` into ``config.out``; returns the run summary.

    ``stages`` replaces :func:`build_stages` (for embedding the engine with custom stages).
    """
    if not config.out:
        check_output_dir(config.out, config.overwrite)  # this path always writes its files
    with PipelineRun(config, stages) as run:
        for _ in run:
            pass
    return run.summary


def _stage_fps(frames: int, clock: StageClock) -> float | None:
    """Frames per second of the stages alone (decoding to writing, as if run one after the other),
    without start-up costs."""
    busy = sum(v for k, v in clock.seconds.items() if k != "write_wait")
    return round(frames / busy, 3) if busy > 0 else None


def run_warnings(config: RunConfig, status) -> list[str]:
    warnings = []
    if status.error:
        warnings.append(f"decoding stopped at frame {status.stopped_at}: {status.error}; "
                        f"outputs cover frames 0-{status.frames_decoded - 1}")
    changes = getattr(status, "size_changes", None)
    if changes:
        first, w, h = changes[0]
        warnings.append(f"the frame size changes inside the stream ({len(changes)}{'+' if len(changes) >= 16 else ''} "
                        f"time(s), first at frame {first}, to {w}x{h}); every frame was rescaled to the first "
                        f"frame's size")
    if status.corrupt_frames:
        warnings.append(f"the decoder concealed errors in {len(status.corrupt_frames)} frame(s), "
                        f"first at frame {status.corrupt_frames[0]}")
    if config.fp16 and config.device == "cpu":
        warnings.append("--fp16 has no effect on CPU")
    unread = config.extra.unread() if isinstance(config.extra, StageOptions) else []
    if unread:
        given = ", ".join(f"{k}={dict.get(config.extra, k)!r}" for k in unread)
        warnings.append(f"no stage of this run read {given} (a setting of a stage this run does not use; "
                        f"`motionseg-trt run --list-options` says whose each is)")
    return warnings
