"""What a batch prints: one line per finished video (stdout; a failure's on stderr), a heartbeat line
every ``progress_interval`` seconds while videos run when stderr is not a terminal, and a table at
the end: per video its frames, objects, fps and status."""
from __future__ import annotations

import sys
import threading
import time
from typing import Optional

from ..progress import clock_text, stage_speeds
from .jobs import Outcome


def outcome_line(outcome: Outcome, position: int, total: int) -> str:
    head = f"motionseg-trt: [{position}/{total}] {outcome.name}"
    if outcome.status == "skipped":
        return f"{head}: skipped, complete in {outcome.out}"
    if outcome.status == "done":
        speeds = f" ({stage_speeds(outcome.fps_per_stage)})" if outcome.fps_per_stage else ""
        return (f"{head}: {outcome.frames} frames, {outcome.objects} moving object(s), "
                f"{outcome.fps or 0:.1f} fps -> {outcome.out}{speeds}")
    return f"{head}: {outcome.status} (exit {outcome.exit_code}): {outcome.error}"


def table(outcomes: list[Outcome]) -> str:
    rows = [("video", "frames", "objects", "fps", "status")]
    for o in outcomes:
        status = o.status if o.ok else f"{o.status} (exit {o.exit_code})"
        rows.append((o.name, _n(o.frames), _n(o.objects), "-" if o.fps is None else f"{o.fps:.1f}", status))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i in (0, 4) else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
             for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _n(value: Optional[int]) -> str:
    return "-" if value is None else str(value)


class BatchReport:
    """Collects outcomes in the order they finish and prints as it goes."""

    def __init__(self, total: int, quiet: bool, interval: Optional[float]):
        self.total, self.quiet = total, quiet
        self.outcomes: list[Outcome] = []
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = None
        if interval and not quiet and not sys.stderr.isatty():
            self._thread = threading.Thread(target=self._beat, args=(interval,), name="motionseg-batch-heartbeat",
                                            daemon=True)
            self._thread.start()

    def done(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        line = outcome_line(outcome, len(self.outcomes), self.total)
        if not outcome.ok:
            print(line, file=sys.stderr, flush=True)
        elif not self.quiet:
            print(line, flush=True)
        for warning in outcome.warnings:
            if "fp16" not in warning:  # said once for the batch, as for one video
                print(f"motionseg-trt: warning: {outcome.name}: {warning}", file=sys.stderr, flush=True)

    def heartbeat_line(self) -> str:
        failed = sum(not o.ok for o in self.outcomes)
        return (f"motionseg-trt: {len(self.outcomes)} of {self.total} videos finished ({failed} failed), "
                f"{clock_text(time.monotonic() - self.started)} elapsed")

    def _beat(self, interval: float) -> None:
        while not self._stop.wait(interval):
            print(self.heartbeat_line(), file=sys.stderr, flush=True)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
