r"""Does the result depend on how a clip was stored? DAVIS-style clips re-encoded as people store them,
run through the product, the masks mapped back onto the original frames and scored (J&F).

    python benchmarks/footage_eval.py [DATA] --seqs bear,hike --variants orig,phone,fps12 \
        --work /tmp/footage --jobs 2 [--json out.json] [--set key=value ...]
    python benchmarks/footage_eval.py [DATA] --joined bear,boat,bus,hike,lucia,tennis --work /tmp/footage

Variants of each ``<seq>/clip.mp4`` (854x480, 24 fps), written once into ``--work`` with PyAV:

* ``orig``: the clip as stored;
* ``phone``: as a phone stores it: 1920x1080 coded with 90 degree rotation metadata (a portrait
  picture, 1080x1920 upright), 60 fps (each 60 fps frame shows the source frame of its time: sample
  and hold), with an AAC stereo track;
* ``fps12``: every other frame, 1920x1080, 12 fps;
* ``portrait24`` (rotation only), ``land60`` (60 fps only), ``p240`` (426x240), ``p1080``
  (1920x1080, 24 fps): to tell causes apart.

Scoring: each output mask is rotated back to the coded orientation and resized (nearest) to the
ground truth; a ground-truth frame is scored against the first output frame that shows it (for 12 fps,
only the even frames exist). ``--joined A,B,...`` joins clips by hard cuts (854x480, 24 fps), runs the
joined clip and reports, per part, J&F and the object ids it holds: an id found in two parts spans a cut.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.metrics import frame_scores  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "davis16-dev"
SOURCE_FPS = 24
VARIANTS = {
    # name: (size (w, h) of the coded frames or None, rotation, fps, audio)
    "orig": None,
    "phone": ((1920, 1080), 90, 60, True),
    "fps12": ((1920, 1080), 0, 12, False),
    "portrait24": ((1920, 1080), 90, 24, False),
    "land60": ((1920, 1080), 0, 60, False),
    "p240": ((426, 240), 0, 24, False),
    "p1080": ((1920, 1080), 0, 24, False),
}


def read_frames(clip: str) -> list[np.ndarray]:
    import av

    with av.open(clip) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def source_of(n_source: int, fps: float) -> list[int]:
    """For a clip re-timed from 24 fps to ``fps``: the source frame each output frame shows."""
    if fps < SOURCE_FPS:  # dropping frames: every (24 / fps)-th frame
        step = int(round(SOURCE_FPS / fps))
        return list(range(0, n_source, step))
    n_out = int(np.ceil(n_source * fps / SOURCE_FPS))
    return [min(n_source - 1, int(np.floor(i * SOURCE_FPS / fps + 1e-9))) for i in range(n_out)]


def _audio(container, seconds: float):
    """A quiet two-tone stereo AAC stream (48 kHz) as long as the video."""
    import av

    stream = container.add_stream("aac", rate=48000)
    stream.layout = "stereo"
    n = int(seconds * 48000)
    t = np.arange(n) / 48000.0
    wave = (0.1 * np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)])).astype(np.float32)
    frames = []
    for i in range(0, n, 1024):
        chunk = np.ascontiguousarray(wave[:, i:i + 1024])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = 48000, i
        frames.append(frame)
    return stream, frames


def write_variant(frames: list[np.ndarray], path: str, size, rotation: int, fps: float, audio: bool) -> list[int]:
    """Encode ``frames`` (24 fps source) as the variant; returns the source frame of each output frame."""
    import av

    shows = source_of(len(frames), fps)
    tmp = path + ".tmp.mp4"
    with av.open(tmp, mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        if rotation:
            stream.set_display_rotation(rotation)
        sound, chunks = _audio(container, len(shows) / fps) if audio else (None, [])
        cache: dict[int, np.ndarray] = {}
        for i, j in enumerate(shows):
            if j not in cache:
                cache.clear()
                cache[j] = cv2.resize(frames[j], size, interpolation=cv2.INTER_CUBIC if size[0] > frames[j].shape[1]
                                      else cv2.INTER_AREA)
            vf = av.VideoFrame.from_ndarray(cache[j], format="rgb24")
            for packet in stream.encode(vf):
                container.mux(packet)
            # interleave the audio as the video goes
            while chunks and chunks[0].pts / 48000.0 <= (i + 1) / fps:
                for packet in sound.encode(chunks.pop(0)):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None:
            for chunk in chunks:
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    os.replace(tmp, path)
    return shows


def join_clips(dirs: list[Path], path: str) -> list[tuple[int, int]]:
    """Clips one after the other (hard cuts), 854x480 24 fps; returns each part's frame range."""
    import av

    ranges, start = [], 0
    tmp = path + ".tmp.mp4"
    with av.open(tmp, mode="w") as container:
        stream = container.add_stream("libx264", rate=SOURCE_FPS)
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        sized = False
        for d in dirs:
            frames = read_frames(str(d / "clip.mp4"))
            if not sized:
                stream.height, stream.width = frames[0].shape[:2]
                sized = True
            for f in frames:
                f = cv2.resize(f, (stream.width, stream.height), interpolation=cv2.INTER_AREA)
                for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    container.mux(packet)
            ranges.append((start, start + len(frames)))
            start += len(frames)
        for packet in stream.encode():
            container.mux(packet)
    os.replace(tmp, path)
    return ranges


def prepare(seq_dir: Path, variant: str, work: Path) -> tuple[str, list[int], int]:
    """(clip path, source frame per output frame, rotation) of a variant, written once."""
    if VARIANTS[variant] is None:
        clip = str(seq_dir / "clip.mp4")
        return clip, list(range(len(sorted((seq_dir / "masks").glob("*.png"))))), 0
    size, rotation, fps, audio = VARIANTS[variant]
    path = work / f"{seq_dir.name}.{variant}.mp4"
    meta = work / f"{seq_dir.name}.{variant}.json"
    if not (path.exists() and meta.exists()):
        shows = write_variant(read_frames(str(seq_dir / "clip.mp4")), str(path), size, rotation, fps, audio)
        meta.write_text(json.dumps(shows))
    return str(path), json.loads(meta.read_text()), rotation


def run_engine(clip: str, extra: dict, out: str) -> tuple[list[np.ndarray], dict]:
    from PIL import Image

    from motionseg_trt.config import RunConfig
    from motionseg_trt.pipeline import run_pipeline

    extra = dict(extra)
    sizes = {k: int(extra.pop(k)) for k in ("window", "stride") if k in extra}  # RunConfig fields
    config = RunConfig(input=clip, out=out, write_overlay=False, progress=False, threads=1, extra=extra, **sizes)
    summary = run_pipeline(config)
    masks = [np.asarray(Image.open(f)) for f in sorted(Path(out, "masks").glob("*.png"))]
    return masks, summary


def to_source(mask: np.ndarray, rotation: int, gt_shape) -> np.ndarray:
    """An upright output mask in the orientation and size of the ground truth."""
    k = (rotation // 90) % 4
    if k:
        mask = np.rot90(mask, k=-k)
    return cv2.resize(np.ascontiguousarray(mask), (gt_shape[1], gt_shape[0]), interpolation=cv2.INTER_NEAREST)


def score(masks: list[np.ndarray], shows: list[int], rotation: int, gt_files: list[Path]) -> dict:
    from motionseg_trt.evaluation.folders import read_mask

    first: dict[int, int] = {}
    for i, j in enumerate(shows):
        first.setdefault(j, i)
    js, fs, empty = [], [], 0
    for j, i in sorted(first.items()):
        if j >= len(gt_files) or i >= len(masks):
            continue
        gt = read_mask(gt_files[j])
        pred = to_source(masks[i], rotation, gt.shape)
        empty += not pred.any()
        a, b = frame_scores(pred, gt)
        js.append(a)
        fs.append(b)
    j, f = float(np.mean(js)), float(np.mean(fs))
    return {"J": j, "F": f, "JF": (j + f) / 2, "scored": len(js), "empty": empty}


def objects_in(masks: list[np.ndarray]) -> set:
    ids: set = set()
    for m in masks:
        ids.update(int(v) for v in np.unique(m) if v)
    return ids


def run_variant(task) -> dict:
    seq_dir, variant, work, extra = task
    cv2.setNumThreads(1)
    clip, shows, rotation = prepare(seq_dir, variant, work)
    gt_files = sorted((seq_dir / "masks").glob("*.png"))
    with tempfile.TemporaryDirectory(prefix="footage_") as tmp:
        masks, summary = run_engine(clip, extra, str(Path(tmp) / "out"))
    result = score(masks, shows, rotation, gt_files)
    result.update(seq=seq_dir.name, variant=variant, frames=len(masks), expected_frames=len(shows),
                  frames_with_mask=sum(bool(m.any()) for m in masks), objects=len(objects_in(masks)),
                  fps=summary.get("fps"), warnings=summary.get("warnings", []))
    return result


def run_joined(data: Path, names: list[str], work: Path, extra: dict) -> dict:
    dirs = [data / n for n in names]
    path = work / ("joined-" + "-".join(names) + ".mp4")
    meta = Path(str(path) + ".json")
    if not (path.exists() and meta.exists()):
        meta.write_text(json.dumps(join_clips(dirs, str(path))))
    ranges = json.loads(meta.read_text())
    with tempfile.TemporaryDirectory(prefix="footage_") as tmp:
        masks, summary = run_engine(str(path), extra, str(Path(tmp) / "out"))
    parts, seen = [], {}
    for d, (a, b) in zip(dirs, ranges):
        part = masks[a:b]
        gt_files = sorted((d / "masks").glob("*.png"))
        r = score(part, list(range(b - a)), 0, gt_files)
        ids = sorted(objects_in(part))
        for i in ids:
            seen.setdefault(i, []).append(d.name)
        parts.append({"seq": d.name, "frames": (a, b), "ids": ids, **r})
    spanning = {i: s for i, s in seen.items() if len(s) > 1}
    return {"parts": parts, "ids_spanning_cuts": spanning, "objects": len(objects_in(masks)),
            "JF": float(np.mean([p["JF"] for p in parts])), "fps": summary.get("fps"),
            "warnings": summary.get("warnings", [])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--seqs", default="bear", help="comma-separated sequence names ('all': every one)")
    parser.add_argument("--variants", default="orig,phone,fps12", help=f"any of {','.join(VARIANTS)}")
    parser.add_argument("--joined", default="", help="comma-separated sequences to join by hard cuts")
    parser.add_argument("--work", required=True, help="folder for the re-encoded clips (kept between runs)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--json", default="")
    parser.add_argument("--set", action="append", default=[],
                        help="stage option key=value (RunConfig.extra; window=N and stride=N set those)")
    args = parser.parse_args(argv)

    data, work = Path(args.data), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    extra = dict(item.split("=", 1) for item in args.set)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    report: dict = {"args": vars(args)}
    if args.joined:
        joined = run_joined(data, args.joined.split(","), work, extra)
        for p in joined["parts"]:
            print(f"{p['seq']:<18} frames {p['frames'][0]:>4}-{p['frames'][1] - 1:<4} J&F {100 * p['JF']:5.1f} ids {p['ids']}")
        print(f"joined: mean J&F {100 * joined['JF']:.1f}, {joined['objects']} objects, "
              f"ids spanning a cut: {joined['ids_spanning_cuts'] or 'none'}, {joined['fps']} fps")
        report["joined"] = joined
    else:
        seqs = sorted(p.name for p in data.iterdir() if (p / "clip.mp4").exists()) if args.seqs == "all" \
            else args.seqs.split(",")
        variants = args.variants.split(",")
        tasks = [(data / s, v, work, extra) for s in seqs for v in variants]
        for s in seqs:  # encode first, one process per sequence (variants share the decoded frames)
            for v in variants:
                prepare(data / s, v, work)
        if args.jobs > 1:
            # spawn, not fork: the encoding above started FFmpeg threads, and a forked child can
            # inherit one of their locks held (it then waits forever)
            with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
                results = list(pool.map(run_variant, tasks))
        else:
            results = [run_variant(t) for t in tasks]
        print(f"{'sequence':<18} {'variant':<11} {'J&F':>5} {'J':>5} {'F':>5} {'masked':>9} {'objs':>4} {'fps':>5}")
        for r in results:
            print(f"{r['seq']:<18} {r['variant']:<11} {100 * r['JF']:5.1f} {100 * r['J']:5.1f} {100 * r['F']:5.1f} "
                  f"{r['frames_with_mask']:>4}/{r['frames']:<4} {r['objects']:>4} {r['fps'] or 0:5.1f}")
        for v in variants:
            sel = [r for r in results if r["variant"] == v]
            print(f"{'mean':<18} {v:<11} {100 * np.mean([r['JF'] for r in sel]):5.1f}")
        report["results"] = results
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
