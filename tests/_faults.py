"""Helpers of the fault-injection tests: run the command line in a subprocess (with a fault planned
through ``$MOTIONSEG_FAULT``, see ``motionseg_trt.faults``), and check what an output folder holds."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

from motionseg_trt.io.atomic import TMP_MARK
from motionseg_trt.io.lock import LOCK_NAME
from motionseg_trt.io.output_dir import MARKER


def _child_signals():
    # a test runner started in the background passes SIGINT on as ignored: restore the default, so that
    # the child's Python installs its KeyboardInterrupt handler as in a terminal
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_cli(argv: Sequence[str], fault: str = "", prefix: Sequence[str] = (), **kwargs) -> subprocess.Popen:
    env = dict(os.environ, MOTIONSEG_FAULT=fault)
    cmd = [*prefix, sys.executable, "-m", "motionseg_trt", *map(str, argv)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=_child_signals, **kwargs)


def run_cli(argv: Sequence[str], fault: str = "", prefix: Sequence[str] = (), timeout: float = 180):
    proc = start_cli(argv, fault, prefix)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def one_line_error(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def snapshot(folder) -> dict:
    """Every file under ``folder`` (links as links) -> its sha256 (or link target)."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, folder)
            if os.path.islink(path):
                out[rel] = "-> " + os.readlink(path)
            elif os.path.isfile(path):
                out[rel] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            else:
                out[rel] = "<dir>"
    return out


def mask_names(out) -> list[str]:
    folder = Path(out) / "masks"
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def assert_consistent(out, complete: Optional[bool] = None) -> bool:
    """Only whole files in ``out``: no temporaries, no lock; masks 0..n-1, each a readable PNG; and
    objects.json with run.json (both, describing exactly the masks there) or neither. Returns whether
    the folder says "finished"."""
    from PIL import Image

    out = Path(out)
    names = sorted(os.listdir(out))
    assert LOCK_NAME not in names, names
    assert not [n for n in names if TMP_MARK in n or n.endswith(".partial")], names
    masks = mask_names(out)
    assert not [n for n in masks if n.startswith(".")], masks
    assert masks == [f"{i:05d}.png" for i in range(len(masks))], masks
    sizes = set()
    for name in masks:
        with Image.open(out / "masks" / name) as img:
            img.load()
            sizes.add(img.size)
    assert len(sizes) <= 1, sizes  # never two runs mixed
    finished = (out / "run.json").exists()
    assert finished == (out / "objects.json").exists(), names
    if finished:
        run = json.loads((out / "run.json").read_text())
        assert run["frames"] == len(masks)
        if (out / "overlay.mp4").exists():
            import av

            with av.open(str(out / "overlay.mp4")) as c:
                assert sum(1 for _ in c.decode(video=0)) == len(masks)
    else:
        assert not (out / "overlay.mp4").exists()
    if masks or finished:
        assert MARKER in names  # a later --overwrite may replace these results
    if complete is not None:
        assert finished == complete, names
    return finished
