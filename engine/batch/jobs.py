"""One video of a batch as a job: its configuration in, an :class:`Outcome` out, never an exception
(one failing video does not stop the others). The same function runs in-process, in a local worker
process and as a Ray task.

A video whose folder holds a ``run.json`` that says ``complete`` is done: a second call skips it
(``--overwrite`` runs it again). A folder holding the unfinished results of an earlier run (killed,
interrupted) is run again over them; a folder of someone else's files is refused as for one video.
"""
from __future__ import annotations

import glob
import json
import os
import traceback
from dataclasses import dataclass, field, replace
from typing import Optional

from ..config import RunConfig


@dataclass
class Job:
    name: str  # the result folder's name (and how lines and the table call the video)
    config: RunConfig  # input and out filled in


@dataclass
class Outcome:
    name: str
    input: str
    out: str
    status: str  # done | skipped | failed | interrupted
    frames: Optional[int] = None
    objects: Optional[int] = None
    fps: Optional[float] = None
    fps_per_stage: dict = field(default_factory=dict)
    exit_code: int = 0
    error: Optional[str] = None
    warnings: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in ("done", "skipped")


def read_record(out: str) -> Optional[dict]:
    """The ``run.json`` of a result folder, or None (none, or unreadable: a run that did not finish)."""
    from ..io.output_dir import RUN_JSON

    try:
        with open(os.path.join(out, RUN_JSON)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def is_complete(out: str) -> bool:
    record = read_record(out)
    return bool(record) and record.get("status") == "complete"


def has_our_results(out: str) -> bool:
    """Whether ``out`` holds files a run writes (the unfinished results of an earlier run)."""
    from ..io.output_dir import our_files

    return any(glob.glob(os.path.join(glob.escape(out), pattern)) for pattern in our_files())


def skipped(job: Job) -> Outcome:
    record = read_record(job.config.out) or {}
    return Outcome(job.name, str(job.config.input), job.config.out, "skipped", frames=record.get("frames"),
                   objects=record.get("objects"), fps=record.get("fps"),
                   fps_per_stage=record.get("fps_per_stage") or {})


def resume_config(config: RunConfig) -> RunConfig:
    """An unfinished earlier run in the folder is replaced (only its own files are removed)."""
    if not config.overwrite and os.path.isdir(config.out) and has_our_results(config.out):
        return replace(config, overwrite=True)
    return config


def run_job(job: Job) -> Outcome:
    """Run one video; every failure becomes the outcome's status, exit code and message."""
    from ..errors import MotionSegError
    from ..interrupts import exit_code, signals_as_interrupts
    from ..pipeline import run_pipeline

    config = resume_config(job.config)
    base = Outcome(job.name, str(config.input), config.out, "failed")
    try:
        # in a worker process of its own too: SIGINT / SIGTERM / SIGHUP clean up like Ctrl-C
        with signals_as_interrupts():
            summary = run_pipeline(config)
    except MotionSegError as exc:
        return replace(base, exit_code=exc.exit_code, error=str(exc))
    except KeyboardInterrupt as exc:
        return replace(base, status="interrupted", exit_code=exit_code(exc), error="interrupted")
    except Exception as exc:  # noqa: BLE001 - a bug, reported with where it happened
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return replace(base, exit_code=1, error=f"internal error: {type(exc).__name__}: {exc} "
                                                f"({os.path.basename(where.filename)}:{where.lineno})")
    done = replace(base, status="done", frames=summary["frames"], objects=summary["objects"], fps=summary["fps"],
                   fps_per_stage=summary.get("fps_per_stage") or {}, warnings=list(summary.get("warnings", [])))
    if summary["status"] != "complete":
        decode = summary["decode"]
        return replace(done, status="failed", exit_code=3,
                       error=f"corrupt input: decoding stopped at frame {decode['stopped_at']} ({decode['error']}); "
                             f"outputs were written for frames 0-{decode['frames_decoded'] - 1}")
    return done
