"""Jobs on a Ray cluster (``--ray [ADDRESS]``): one task per video, asking for the CPUs it runs with
(``--threads``, default 1) and, with ``--device cuda``, one GPU; Ray places them. Without an
ADDRESS a local Ray instance is started for the call (or the cluster ``RAY_ADDRESS`` names is
joined); ``auto`` joins the cluster started on this machine by ``ray start``; ``ray://HOST:PORT``
connects as a client. Inputs and output folders must be paths every node sees (a shared
filesystem), and ``motionseg-trt`` must be installed on every node.

Ray is an optional extra (``pip install "motionseg-trt[ray]"``); it is imported only here.
"""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Callable, Optional

from ..errors import UnavailableError
from .jobs import Job, Outcome, run_job

RAY_MISSING = "--ray needs Ray, which is not installed: pip install 'motionseg-trt[ray]' (or pip install ray)"


def import_ray():
    try:
        import ray
    except ImportError:
        raise UnavailableError(RAY_MISSING) from None
    return ray


def task_resources(job: Job) -> dict:
    """What one video's task asks Ray for."""
    cpus = int(job.config.threads or 1)
    gpus = 1 if str(job.config.device).startswith("cuda") else 0
    return {"num_cpus": cpus, "num_gpus": gpus}


def run_on_ray(jobs: list[Job], address: Optional[str], on_done: Callable[[Outcome], None]) -> list[Outcome]:
    import logging

    ray = import_ray()
    # the task's threads match what it asked Ray for; paths absolute, as a worker's folder is its own
    jobs = [replace(job, config=replace(job.config, threads=task_resources(job)["num_cpus"],
                                        input=os.path.abspath(job.config.input), out=os.path.abspath(job.config.out)))
            for job in jobs]
    try:
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING, configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UnavailableError(f"--ray {address or ''}: cannot start or reach a Ray cluster: {exc}".replace("  ", " ")) \
            from None
    try:
        remote = ray.remote(run_job)
        refs = {remote.options(max_retries=0, name=f"motionseg-{job.name}", **task_resources(job)).remote(job): job
                for job in jobs}
        outcomes = []
        try:
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)
                for ref in done:
                    job = refs.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except Exception as exc:  # noqa: BLE001 - the task's worker died, or Ray lost it
                        outcome = Outcome(job.name, str(job.config.input), job.config.out, "failed", exit_code=1,
                                          error=f"the Ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0]}")
                    outcomes.append(outcome)
                    on_done(outcome)
        except KeyboardInterrupt:
            for ref in refs:
                ray.cancel(ref)
            raise
        return outcomes
    finally:
        ray.shutdown()
