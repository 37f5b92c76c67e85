#!/usr/bin/env python3
"""Does memory stay flat as the video gets longer? Peak RSS of ``motionseg-trt run`` on a short and
a 4x longer clip (the example clip played forwards and backwards, so the camera keeps moving).

    python benchmarks/streaming_memory.py                    # 240 and 960 frames, 320x240
    python benchmarks/streaming_memory.py --frames 600 2400 --offline-too
    python benchmarks/streaming_memory.py --frames 1440 14400 --overlay   # 1 vs 10 minutes at 24 fps

Prints peak RSS per run and the long/short ratio (1.0 = flat). Offline mode (the whole clip as one
window) is the contrast: its memory grows with the clip.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(REPO, "examples", "pan_ball_320x240.mp4")

_MEASURE = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(proc.stderr[-2000:] if proc.returncode else "")
print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def make_long_clip(path: str, n_frames: int) -> None:
    import av

    from motionseg_trt.io.decode import open_frames

    with open_frames(EXAMPLE) as reader:
        base = np.stack(list(reader))
    loop = np.concatenate([base, base[::-1]])
    with av.open(path, mode="w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = base.shape[2], base.shape[1], "yuv420p"
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(loop[i % len(loop)], format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def peak_rss_mb(clip: str, out: str, extra: list[str]) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "motionseg_trt", "run", clip, "--out", out, "--no-progress", *extra]
    proc = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True)
    code, rss_kb = proc.stdout.strip().splitlines()[-1].split()
    if code != "0":
        raise SystemExit(f"run failed ({code}): {proc.stdout}")
    with open(os.path.join(out, "run.json")) as f:
        run = json.load(f)
    return int(rss_kb) / 1024.0, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, nargs=2, default=[240, 960], metavar=("SHORT", "LONG"))
    parser.add_argument("--offline-too", action="store_true", help="also measure --offline")
    parser.add_argument("--motion-model", default="geometric")
    parser.add_argument("--overlay", action="store_true", help="also write overlay.mp4 (default: --no-overlay)")
    args = parser.parse_args()
    modes = [("streaming", [])] + ([("offline", ["--offline"])] if args.offline_too else [])
    with tempfile.TemporaryDirectory() as tmp:
        clips = {}
        for n in args.frames:
            clips[n] = os.path.join(tmp, f"clip{n}.mp4")
            make_long_clip(clips[n], n)
        for mode, flags in modes:
            rss = {}
            for n in args.frames:
                rss[n], run = peak_rss_mb(clips[n], os.path.join(tmp, f"out-{mode}-{n}"),
                                          ["--motion-model", args.motion_model, *flags,
                                           *([] if args.overlay else ["--no-overlay"])])
                print(f"{mode:9s} {n:6d} frames 320x240: peak RSS {rss[n]:7.1f} MiB, {run['fps']:.1f} fps")
            short, long = args.frames
            print(f"{mode:9s} ratio peak RSS {long}/{short} frames: {rss[long] / rss[short]:.3f}")


if __name__ == "__main__":
    main()
