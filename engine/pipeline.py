"""The streaming orchestrator: decode -> tracks -> features -> motion labels -> masks -> writers,
one window at a time.

``run_pipeline(config)`` opens the input, builds the stages, feeds them every window and writes the
outputs; it returns a summary (also stored in ``run.json``). The output folder is claimed (locked: one
run per folder) once the input is open, but nothing is written into it, and no previous result
removed, until the first masks are ready: a bad input, a missing model or an interrupt during
start-up leaves it as it was (:mod:`.io.output_dir`).
"""
from __future__ import annotations

import platform
import sys
import time
from collections import defaultdict
from typing import Optional

import numpy as np

from . import __version__
from .config import RunConfig, StageOptions
from .contracts import FrameWindow, WindowMasks
from .io.decode import open_frames
from .faults import fault_point
from .interrupts import deferred
from .io.output_dir import OutputFolder, check_output_dir
from .io.windows import VideoSource, validate_window
from .io.background import BackgroundWriter
from .io.writers import OutputWriter
from .options import ENGINE_OPTIONS, check_options, read_option
from .stages import Stages, build_stages, chosen

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


def _progress(config: RunConfig, total: Optional[int]):
    from tqdm import tqdm

    enabled = bool(config.progress) and sys.stderr.isatty()
    return tqdm(total=total, unit="frame", desc="motionseg-trt", disable=not enabled, leave=False)


def run_pipeline(config: RunConfig, stages: Optional[Stages] = None) -> dict:
    """Segment the moving objects of ``config.input`` into ``config.out``; returns the run summary.

    ``stages`` replaces :func:`build_stages` (for embedding the engine with custom stages).
    """
    t_start = time.perf_counter()
    # a misspelt or impossible --option fails before anything is opened or written
    check_options(config, [(type(s).__name__, getattr(s, "OPTIONS", ())) for s in stages or ()])
    if stages is None:
        chosen(config)  # a model-set combination that cannot work: exit code 2, before anything is opened
    if not config.offline:
        validate_window(config.window, config.stride)
    check_output_dir(config.out, config.overwrite)  # creates nothing
    if config.threads:
        import cv2

        cv2.setNumThreads(int(config.threads))
    clock = StageClock()
    reader = clock.run("decode", open_frames, config.input, config.max_side, config.threads)
    folder = OutputFolder(config.out, config.overwrite)
    try:
        # after the input is open: a bad input (or one that blocks, a FIFO with no writer) never touches OUT
        folder.claim()
        fault_point("after-lock")
        t_build = time.perf_counter()
        stages = stages if stages is not None else build_stages(config)
        build_seconds = time.perf_counter() - t_build
        info = reader.info
        fault_point("before-first-frame")
        writer = OutputWriter(config.out, info, config, folder=folder)
        # background_writer=false writes on the main thread (A/B timing of the worker threads)
        writer = BackgroundWriter(writer, max_pending=2 if read_option(config, ENGINE_OPTIONS, "background_writer") else 0)
        source = VideoSource(reader, config.window, config.stride, config.offline,
                             prefetch=read_option(config, ENGINE_OPTIONS, "prefetch_frames"))
        progress = _progress(config, info.num_frames)
        windows = iter(source)
        num_windows = 0
        try:
            while True:
                window = clock.run("decode", next, windows, None)
                if window is None:
                    break
                num_windows += 1
                tracks = clock.run("tracks", stages.tracker.track, window)
                feats = clock.run("features", stages.features.extract, window, tracks)
                labels = clock.run("motion", stages.labeller.label, window, tracks, feats)
                masks = clock.run("masks", stages.densifier.densify, window, tracks, labels)
                masks = check_masks(window, masks, (info.work_height, info.work_width))
                clock.run("write_wait", writer.write, window.frames[window.emit_from:], masks)
                progress.update(len(window.emit_range))
                if num_windows == 1:
                    fault_point("after-first-window")
            clock.run("write_wait", writer.drain)
            clock.seconds["write"] = writer.busy_seconds

            status = reader.status
            total = time.perf_counter() - t_start
            frames = writer.frames_written
            warnings = run_warnings(config, status)
            summary = {
                "status": "complete" if status.complete else "input-incomplete",
                "out": config.out,
                "frames": frames,
                "objects": writer.num_objects,
                "windows": num_windows,
                "seconds": {**clock.as_dict(), "build": round(build_seconds, 4), "total": round(total, 4)},
                "fps": round(frames / total, 3) if total > 0 else None,
                "fps_stages": _stage_fps(frames, clock),
                "warnings": warnings,
                "decode": status.to_dict(),
            }
            run_info = {
                **summary,
                "input": vars(info).copy(),
                "mode": "offline" if config.offline else "streaming",
                "config": config.to_dict(),
                "versions": package_versions(),
                "machine": {"platform": platform.platform(), "processor": platform.machine()},
            }
            with deferred():  # objects.json and run.json: both or neither (a signal waits for them)
                paths = writer.finish(run_info)
            summary["outputs"] = paths
        except BaseException:
            with deferred():  # clean-up a second signal must not cut short
                source.close()
                writer.abort()
            raise
        finally:
            with deferred():
                source.close()
                progress.close()
    finally:
        with deferred():
            folder.release()  # unlocks; removes what the claim made if no result was written
            reader.close()
    return summary


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
