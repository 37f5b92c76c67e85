"""Jobs on this machine: in this process one after the other (``--jobs 1``), or ``N`` at a time, each in
a fresh worker process (spawned, not forked: the engine's threads and OpenCV's state do not survive a
fork), so that a crash, a leak or a hard kill of one video touches no other."""
from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Callable

from .jobs import Job, Outcome, run_job


def _child(job: Job, conn) -> None:
    conn.send(run_job(job))
    conn.close()


def _in_process(ctx, job: Job) -> Outcome:
    """``job`` in a worker process of its own; a worker that dies without an answer is a failure."""
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(job, send), name=f"motionseg-{job.name}")
    process.start()
    send.close()  # only the child holds the sending end: its death ends recv() with EOFError
    try:
        outcome = receive.recv()
    except EOFError:
        process.join()
        return Outcome(job.name, str(job.config.input), job.config.out, "failed", exit_code=1,
                       error=f"the worker process died (exit status {process.exitcode})")
    finally:
        receive.close()
    process.join()
    return outcome


def run_local(jobs: list[Job], workers: int, on_done: Callable[[Outcome], None]) -> list[Outcome]:
    """Run ``jobs``, ``workers`` at a time; ``on_done`` is called as each finishes. A Ctrl-C stops the
    queue and lets the running videos clean up."""
    if workers <= 1:
        outcomes = []
        for job in jobs:
            outcomes.append(run_job(job))
            on_done(outcomes[-1])
            if outcomes[-1].status == "interrupted":
                from ..interrupts import Interrupted

                raise Interrupted(outcomes[-1].exit_code - 128)  # the signal that stopped it
        return outcomes
    ctx = multiprocessing.get_context("spawn")
    outcomes = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="motionseg-job") as pool:
        pending = {pool.submit(_in_process, ctx, job) for job in jobs}
        try:
            while pending:
                done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    outcomes.append(future.result())
                    on_done(outcomes[-1])
        except KeyboardInterrupt:
            for future in pending:
                future.cancel()  # the queued ones
            _stop_workers()
            raise
    return outcomes


def _stop_workers(grace: float = 5.0) -> None:
    """A Ctrl-C reached the workers too (one process group); a SIGTERM sent to this process alone
    did not: workers still running after ``grace`` seconds are sent one, and clean up as for Ctrl-C."""
    from multiprocessing.connection import wait as wait_for

    deadline = time.monotonic() + grace
    alive = {p.sentinel: p for p in multiprocessing.active_children()}
    while alive and time.monotonic() < deadline:  # sentinels: no reaping, the pool's threads join them
        for ended in wait_for(list(alive), timeout=max(0.0, deadline - time.monotonic())):
            alive.pop(ended)
    for process in alive.values():
        process.terminate()


def share_threads(jobs: list[Job], workers: int, cores: int) -> list[Job]:
    """Each of ``workers`` parallel videos gets its share of the cores, unless --threads says."""
    per = max(1, cores // max(1, workers))
    return [job if job.config.threads else replace(job, config=replace(job.config, threads=per)) for job in jobs]
