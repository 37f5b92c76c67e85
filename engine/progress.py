"""What a run shows while it works, on stderr: a tqdm bar on a terminal; elsewhere (CI, ``nohup``, a
cluster job's log) a heartbeat line every ``progress_interval`` seconds (frames done, fps, ETA when the
frame count is known), printed by a timer thread so that a slow window cannot silence it; nothing
with ``progress=False`` (``--no-progress``, ``--quiet``).

:func:`stage_speeds` words the per-stage speed of the final line.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Optional, TextIO

# a stage under this many seconds per window does nothing worth a speed (bench_stages' rule too)
NO_OP_SECONDS = 50e-6
SPEED_STAGES = ("decode", "tracks", "features", "motion", "masks", "write")


class NoProgress:
    def update(self, frames: int) -> None:
        pass

    def close(self) -> None:
        pass


class Bar(NoProgress):
    def __init__(self, label: str, total: Optional[int]):
        from tqdm import tqdm

        self._bar = tqdm(total=total, unit="frame", desc=label, leave=False)

    def update(self, frames: int) -> None:
        self._bar.update(frames)

    def close(self) -> None:
        self._bar.close()


class Heartbeat(NoProgress):
    """One line every ``interval`` seconds until :meth:`close`."""

    def __init__(self, label: str, total: Optional[int], interval: float, stream: Optional[TextIO] = None):
        self.label, self.total, self.interval = label, total, float(interval)
        self.stream = stream
        self.frames = 0
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="motionseg-heartbeat", daemon=True)
        self._thread.start()

    def update(self, frames: int) -> None:
        self.frames += frames

    def line(self, now: Optional[float] = None) -> str:
        elapsed = (now if now is not None else time.monotonic()) - self.started
        done = self.frames
        if done == 0:
            return f"motionseg-trt: {self.label}: preparing (stages, first window), {clock_text(elapsed)} elapsed"
        fps = done / elapsed if elapsed > 0 else 0.0
        if self.total:
            eta = f", ETA {clock_text((self.total - done) / fps)}" if fps > 0 and done < self.total else ""
            return (f"motionseg-trt: {self.label}: {done}/{self.total} frames ({100.0 * done / self.total:.0f}%), "
                    f"{fps:.1f} fps{eta}")
        return f"motionseg-trt: {self.label}: {done} frames, {fps:.1f} fps, {clock_text(elapsed)} elapsed"

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            print(self.line(), file=self.stream or sys.stderr, flush=True)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def make_progress(config, label: str, total: Optional[int]):
    """The progress display ``config`` asks for, for stderr as it is (a terminal or not)."""
    from .options import ENGINE_OPTIONS, read_option

    interval = read_option(config, ENGINE_OPTIONS, "progress_interval")  # read (and checked) even when unused
    if not config.progress:
        return NoProgress()
    if sys.stderr.isatty():
        return Bar(label, total)
    return Heartbeat(label, total, interval)


def clock_text(seconds: float) -> str:
    """``M:SS`` (``H:MM:SS`` from an hour on)."""
    seconds = int(round(max(0.0, seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def stage_fps(frames: int, seconds: dict, windows: int) -> dict:
    """Frames per second of each stage alone (its seconds summed over windows); None for a stage
    that does nothing (under :data:`NO_OP_SECONDS` a window)."""
    out = {}
    for name in SPEED_STAGES:
        secs = float(seconds.get(name) or 0.0)
        out[name] = None if secs <= NO_OP_SECONDS * max(1, windows) else round(frames / secs, 1)
    return out


def stage_speeds(per_stage: dict) -> str:
    """``tracks 45 fps, features no-op, motion 120 fps ...`` from :func:`stage_fps`."""
    return ", ".join(f"{name} no-op" if fps is None else f"{name} {fps:.0f} fps" for name, fps in per_stage.items())
