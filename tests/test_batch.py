"""Many videos in one ``run``: a result folder per video (names that collide get their parent folder),
folders of videos and list files, resuming (complete videos skipped, unfinished ones run again), one
failure not stopping the others, the exit status, ``--jobs`` processes and ``--ray`` tasks."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from _video import make_pan_frames, write_frame_folder, write_video

from motionseg_trt.batch.inputs import expand, is_batch, read_list, result_names
from motionseg_trt.batch.jobs import Outcome
from motionseg_trt.batch.report import table
from motionseg_trt.cli.main import main
from motionseg_trt.cli.run_many import failed_exit_code


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Three tiny clips (two of the same name in different folders) and a file that is no video."""
    root = tmp_path_factory.mktemp("batch")
    paths = [root / "a.mp4", root / "x" / "c.mp4", root / "y" / "c.mp4"]
    for seed, path in enumerate(paths):
        path.parent.mkdir(exist_ok=True)
        write_video(str(path), make_pan_frames(12, (96, 64), seed=seed).frames)
    (root / "bad.mp4").write_text("not a video\n")
    return root, [str(p) for p in paths]


def _run(*argv):
    return main(["run", *map(str, argv), "--no-overlay", "--window", "8", "--stride", "4"])


def _complete(folder) -> bool:
    record = json.loads((folder / "run.json").read_text())
    return record["status"] == "complete" and len(list((folder / "masks").glob("*.png"))) == record["frames"] == 12


def test_names_that_collide_are_their_folders(tmp_path):
    assert result_names(["/d/a.mp4", "/d/x/c.mp4", "/d/y/c.mp4"]) == ["a", "x", "y"]
    # a data set's <seq>/clip.mp4: the sequence names, as eval matches them
    assert result_names(["/davis/bear/clip.mp4", "/davis/boat/clip.mp4"]) == ["bear", "boat"]
    assert result_names(["/p/x/a/c.mp4", "/p/y/a/c.mp4", "/q/frames"]) == ["x-a", "y-a", "frames"]
    # the same names whatever the order of the inputs: a second call finds the same folders
    assert result_names(["/d/y/c.mp4", "/d/a.mp4", "/d/x/c.mp4"]) == ["y", "a", "x"]


def test_folders_of_videos_lists_and_duplicates(clips, tmp_path):
    root, paths = clips
    frames = write_frame_folder(str(tmp_path / "shots" / "take1"), make_pan_frames(4, (32, 32)).frames)
    (tmp_path / "shots" / "clip.mp4").symlink_to(paths[0])
    (tmp_path / "shots" / "notes.txt").write_text("x")
    (tmp_path / "shots" / "seq").mkdir()  # a data set's <seq>/clip.mp4 beside its masks
    (tmp_path / "shots" / "seq" / "clip.mp4").symlink_to(paths[1])
    write_frame_folder(str(tmp_path / "shots" / "seq" / "masks"), make_pan_frames(2, (32, 32)).frames)
    assert expand([str(tmp_path / "shots")]) == [str(tmp_path / "shots" / "clip.mp4"),
                                                 str(tmp_path / "shots" / "seq" / "clip.mp4"), frames]
    assert is_batch([str(tmp_path / "shots")], None) and not is_batch([frames], None)
    assert not is_batch([paths[0]], None) and is_batch([paths[0]], "list.txt")
    listing = tmp_path / "list.txt"
    listing.write_text(f"# my clips\n{paths[1]}\n\nshots/clip.mp4\n{paths[0]}\n")
    assert read_list(str(listing))[1] == str(tmp_path / "shots" / "clip.mp4")  # relative to the list
    # shots/clip.mp4 is a link to a.mp4: the same file, run once
    assert expand([], str(listing)) == [paths[1], str(tmp_path / "shots" / "clip.mp4")]


@pytest.mark.slow  # the daily lane stays near two minutes; CI runs it
def test_jobs_run_every_video_and_a_second_call_skips_them(clips, tmp_path, capsys):
    root, paths = clips
    out = tmp_path / "res"
    assert _run(*paths, "--out", out, "--jobs", "2") == 0
    first = capsys.readouterr().out
    for name in ("a", "x", "y"):
        assert _complete(out / name)
    assert "video  frames  objects" in first and first.count(" done") == 3
    stamps = {n: (out / n / "run.json").stat().st_mtime_ns for n in ("a", "x", "y")}
    assert _run(*paths, "--out", out, "--jobs", "2") == 0
    second = capsys.readouterr().out
    assert second.count("skipped") == 6  # a line per video and a table row each
    assert stamps == {n: (out / n / "run.json").stat().st_mtime_ns for n in ("a", "x", "y")}


def test_a_failure_does_not_stop_the_others_and_sets_the_exit_status(clips, tmp_path, capsys):
    root, paths = clips
    out = tmp_path / "res"
    code = _run(root / "bad.mp4", paths[0], "--out", out)
    captured = capsys.readouterr()
    assert code == 11  # 10 + one failed video
    assert _complete(out / "a")
    assert "bad: failed (exit 3): not a video" in captured.err
    assert "1 of 2 videos failed: bad" in captured.err
    assert "failed (exit 3)" in captured.out  # the table's row


def test_an_unfinished_run_is_run_again_and_foreign_files_are_refused(clips, tmp_path, capsys):
    root, paths = clips
    from motionseg_trt.io.output_dir import MARKER

    out = tmp_path / "res"
    (out / "a" / "masks").mkdir(parents=True)
    # what a killed run leaves: its marker (written before its first result) and some masks
    (out / "a" / MARKER).write_text('{"format": "motionseg-trt output folder"}')
    (out / "a" / "masks" / "00000.png").write_bytes(b"left by a killed run")
    (out / "c").mkdir()  # x/c.mp4's folder: without y/c.mp4 no name collides
    (out / "c" / "mine.txt").write_text("someone else's")
    code = _run(paths[0], paths[1], "--out", out)
    err = capsys.readouterr().err
    assert _complete(out / "a")
    assert code == 11 and "c: failed (exit 4)" in err
    assert _run(paths[0], paths[1], "--out", out, "--overwrite") == 0
    assert _complete(out / "c") and (out / "c" / "mine.txt").read_text() == "someone else's"


def test_quiet_prints_only_failures(clips, tmp_path, capsys):
    root, paths = clips
    assert _run(paths[0], root / "bad.mp4", "--out", tmp_path / "r", "--quiet") == 11
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "bad: failed" in captured.err and "a:" not in captured.err


def test_exit_status_and_table():
    assert [failed_exit_code(k) for k in (0, 1, 3, 89, 500)] == [0, 11, 13, 99, 99]
    rows = table([Outcome("a", "a.mp4", "r/a", "done", 12, 1, 30.0),
                  Outcome("b", "b.mp4", "r/b", "failed", exit_code=3, error="x")]).splitlines()
    assert rows[0].split() == ["video", "frames", "objects", "fps", "status"]
    assert rows[1].split() == ["a", "12", "1", "30.0", "done"]
    assert rows[2].split() == ["b", "-", "-", "-", "failed", "(exit", "3)"]


def test_a_single_input_keeps_its_layout(clips, tmp_path):
    root, paths = clips
    assert _run(paths[0], "--out", tmp_path / "one", "--quiet") == 0
    assert (tmp_path / "one" / "run.json").exists() and (tmp_path / "one" / "masks").is_dir()


@pytest.mark.slow
def test_ray_runs_every_video_as_a_task_and_a_second_call_skips_them(clips, tmp_path):
    """A local Ray (2 CPUs), one task per video; ``CI`` has Ray installed by tools/dev-setup.sh."""
    if not os.environ.get("CI"):
        pytest.importorskip("ray")
    root, paths = clips
    out = tmp_path / "res"
    argv = [sys.executable, "-m", "motionseg_trt", "run", *paths, "--out", str(out), "--ray", "--no-overlay",
            "--window", "8", "--stride", "4"]
    env = dict(os.environ, RAY_ADDRESS="")  # a local Ray of its own, never a cluster the machine knows of
    first = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stderr
    for name in ("a", "x", "y"):
        assert _complete(out / name)
    assert first.stdout.count(" done") == 3
    second = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert second.returncode == 0 and second.stdout.count("skipped") == 6, second.stderr


def test_no_input_is_a_usage_error(capsys):
    assert main(["run"]) == 2
    assert "give an INPUT" in capsys.readouterr().err


def test_ray_missing_is_one_line_exit_6(clips, tmp_path, capsys, monkeypatch):
    root, paths = clips
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as on a machine without it
    assert _run(paths[0], paths[1], "--out", tmp_path / "r", "--ray") == 6
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'motionseg-trt[ray]'" in err[0]
    assert not (tmp_path / "r").exists()


def test_task_resources_and_thread_shares(clips):
    from dataclasses import replace

    from motionseg_trt.batch.jobs import Job
    from motionseg_trt.batch.local import share_threads
    from motionseg_trt.batch.on_ray import task_resources
    from motionseg_trt.config import RunConfig

    job = Job("a", RunConfig(input="a.mp4", out="r/a"))
    assert task_resources(job) == {"num_cpus": 1, "num_gpus": 0}
    assert task_resources(replace(job, config=replace(job.config, threads=3, device="cuda"))) == {
        "num_cpus": 3, "num_gpus": 1}
    shared = share_threads([job, replace(job, config=replace(job.config, threads=5))], workers=2, cores=8)
    assert [j.config.threads for j in shared] == [4, 5]


def test_a_worker_that_dies_is_one_failed_video(clips, tmp_path):
    """A hard kill of a worker process (the OOM killer, a segfault) fails its video only."""
    import multiprocessing
    import signal
    import threading
    import time
    from dataclasses import replace

    from motionseg_trt.batch.jobs import Job
    from motionseg_trt.batch.local import _in_process
    from motionseg_trt.config import RunConfig

    long_clip = str(tmp_path / "long.mp4")
    write_video(long_clip, make_pan_frames(200, (160, 120)).frames)
    job = Job("long", RunConfig(input=long_clip, out=str(tmp_path / "long"), progress=False))
    result = []
    worker = threading.Thread(target=lambda: result.append(_in_process(multiprocessing.get_context("spawn"), job)))
    worker.start()
    deadline = time.monotonic() + 60
    while not multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)
    worker.join(timeout=60)
    (outcome,) = result
    assert outcome.status == "failed" and outcome.exit_code == 1
    assert outcome.error == "the worker process died (exit status -9)"


def test_each_video_says_its_warnings(clips, tmp_path, capsys):
    root, paths = clips
    assert _run(paths[0], paths[1], "--out", tmp_path / "r", "--backend", "trt", "--jobs", "2",
                "--motion-model", "geometric", "--densifier", "embedded") == 0  # stages that run no network
    err = capsys.readouterr().err
    for name in ("a", "c"):
        assert f"motionseg-trt: warning: {name}: --backend trt: no stage of this run runs a network" in err
