"""``motionseg-trt run A.mp4 B.mp4 ... --out DIR`` (or a folder of videos, or ``--list FILE``): every
video into ``DIR/<name>/``, ``--jobs N`` at a time on this machine or one Ray task each (``--ray``).

Exit status: 0 when every video is complete (run now or skipped as already complete); else
``10 + K`` for K failed videos (at most 99), after a line saying which; 130 when interrupted (143 for
SIGTERM, 129 for SIGHUP); 2, 3 or
6 when the batch itself cannot start (a bad flag, an unreadable list, Ray missing).
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

FAILED_BASE = 10  # exit status 10 + K: K videos failed
FAILED_MAX = 99


def failed_exit_code(failed: int) -> int:
    return 0 if failed == 0 else min(FAILED_BASE + failed, FAILED_MAX)


def make_jobs(args: argparse.Namespace) -> list:
    from ..batch.inputs import expand, result_names
    from ..batch.jobs import Job
    from ..errors import InputError
    from .run import config_from_args

    inputs = expand(args.inputs, args.list_file)
    if not inputs:
        raise InputError("no video or frame folder among the inputs")
    base = config_from_args(args, inputs[0])
    out_root = args.out or os.getcwd()
    return [Job(name, replace(base, input=path, out=os.path.join(out_root, name), progress=False))
            for path, name in zip(inputs, result_names(inputs))]


def main(args: argparse.Namespace) -> int:
    from ..batch.jobs import is_complete, skipped
    from ..batch.report import BatchReport, table
    from ..options import ENGINE_OPTIONS, read_option
    from .run import _UsageError

    try:
        jobs = make_jobs(args)
    except _UsageError as exc:
        print(f"motionseg-trt run: error: {exc}", file=sys.stderr)
        return 2
    if args.out and os.path.exists(args.out) and not os.path.isdir(args.out):
        from ..errors import OutputExistsError

        raise OutputExistsError(f"--out must be a folder for several videos: {args.out} is a file")
    if jobs[0].config.fp16 and jobs[0].config.device == "cpu":
        print("motionseg-trt: note: --fp16 has no effect on CPU", file=sys.stderr)
    report = BatchReport(len(jobs), args.quiet, read_option(jobs[0].config, ENGINE_OPTIONS, "progress_interval"))
    todo = []
    try:
        for job in jobs:
            if is_complete(job.config.out) and not args.overwrite:
                report.done(skipped(job))
            else:
                todo.append(job)
        if todo:
            _run(todo, args, report.done)
    except KeyboardInterrupt as exc:
        from ..interrupts import exit_code

        print(f"motionseg-trt: interrupted after {len(report.outcomes)} of {len(jobs)} videos; complete "
              f"ones are kept, a second call runs the rest", file=sys.stderr)
        return exit_code(exc)  # 130 for Ctrl-C, 143 for a kill, 129 for a hang-up
    finally:
        report.close()  # the heartbeat stops whatever happened (Ray missing, a bad cluster address)
    if not args.quiet:
        order = {job.name: i for i, job in enumerate(jobs)}
        print(table(sorted(report.outcomes, key=lambda o: order[o.name])))
    failed = [o for o in report.outcomes if not o.ok]
    if failed:
        print(f"motionseg-trt: {len(failed)} of {len(jobs)} videos failed: {', '.join(o.name for o in failed)}",
              file=sys.stderr)
    return failed_exit_code(len(failed))


def _run(jobs: list, args: argparse.Namespace, on_done) -> None:
    """SIGINT / SIGTERM / SIGHUP stop the batch as Ctrl-C does (cli.main turns them into interrupts)."""
    if args.ray is not None:
        from ..batch.on_ray import run_on_ray

        run_on_ray(jobs, args.ray or None, on_done)
        return
    from ..batch.local import run_local, share_threads

    workers = min(args.jobs, len(jobs))
    if workers > 1:
        jobs = share_threads(jobs, workers, os.cpu_count() or 1)
    run_local(jobs, workers, on_done)
