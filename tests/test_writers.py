"""Writers: DAVIS PNGs, COCO RLE, objects.json, the overlay (the output sinks), atomic writes, the
output folder."""
from __future__ import annotations

import json
import os

import av
import numpy as np
import pytest
from PIL import Image

from motionseg_trt.config import RunConfig
from motionseg_trt.contracts import VideoInfo, WindowMasks
from motionseg_trt.errors import OutputError, OutputExistsError
from motionseg_trt.io import rle
from motionseg_trt.io.atomic import atomic_path, write_text
from motionseg_trt.io.output_dir import check_output_dir, prepare_output_dir
from motionseg_trt.io.palette import DAVIS_PALETTE
from motionseg_trt.io.sinks.masks import write_mask_png
from motionseg_trt.io.sinks.objects import ObjectIndex
from motionseg_trt.io.sinks.overlay import colour_overlay
from motionseg_trt.io.writers import OutputWriter


# ------------------------------------------------------------------------------------------ RLE
def test_rle_matches_pycocotools_strings():
    # Strings produced by pycocotools.mask.encode (2.0.11) on these masks.
    m = np.zeros((5, 6), bool)
    m[1:4, 2:5] = True
    m[0, 0] = True
    assert rle.encode(m) == {"size": [5, 6], "counts": "01:2H0004"}
    m = np.arange(56).reshape(8, 7) * 37 % 11 < 4
    assert rle.encode(m)["counts"] == "0110000030M0000030M0000030M0000030M0000030"
    m = np.zeros((300, 200), bool)
    m[10:290, 5:190] = True
    m[150, 100] = False
    counts = rle.encode(m)["counts"]
    assert counts.startswith("V_1h8d0000") and counts.endswith("0000^m2")
    assert "dK]OOc0]4" in counts


def test_rle_column_major_counts():
    m = np.array([[0, 1], [1, 1]], bool)  # column-major: 0, 1, 1, 1
    assert rle.mask_to_counts(m) == [1, 3]
    assert rle.mask_to_counts(np.ones((2, 2), bool)) == [0, 4]  # always starts with zeros
    assert rle.mask_to_counts(np.zeros((2, 3), bool)) == [6]


@pytest.mark.parametrize("seed", range(20))
def test_rle_round_trip(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 60, 2)
    m = rng.random((h, w)) < rng.random()
    enc = rle.encode(m)
    assert (rle.decode(enc) == m).all()
    assert rle.area(enc) == m.sum()
    assert rle.string_to_counts(enc["counts"]) == rle.mask_to_counts(m)
    assert (rle.decode({"size": [int(h), int(w)], "counts": rle.mask_to_counts(m)}) == m).all()


# ----------------------------------------------------------------------------------- palette/PNG
def test_davis_palette():
    assert DAVIS_PALETTE[:5].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128]]
    assert len({tuple(c) for c in DAVIS_PALETTE}) == 256


def test_png_is_indexed_with_davis_palette(tmp_path):
    labels = np.zeros((30, 40), np.uint8)
    labels[5:10, 5:20] = 1
    labels[20:, 30:] = 7
    path = write_mask_png(str(tmp_path), 3, labels)
    assert os.path.basename(path) == "00003.png"
    img = Image.open(path)
    assert img.mode == "P" and img.size == (40, 30)
    assert (np.asarray(img) == labels).all()
    assert img.getpalette()[: 3 * 8] == DAVIS_PALETTE[:8].ravel().tolist()


def test_overlay_colours_objects_only():
    frame = np.full((20, 20, 3), 100, np.uint8)
    labels = np.zeros((20, 20), np.uint8)
    labels[5:15, 5:15] = 2
    out = colour_overlay(frame, labels)
    assert (out[0, 0] == 100).all()  # background untouched
    assert (out[10, 10] != 100).any() and out[10, 10, 1] > out[10, 10, 0]  # object 2 is green
    assert (out[5, 5] == DAVIS_PALETTE[2]).all()  # solid outline
    assert colour_overlay(frame, np.zeros_like(labels)) is frame


def test_object_index_first_last_and_rle():
    index = ObjectIndex()
    for t in range(6):
        labels = np.zeros((8, 9), np.uint8)
        if 1 <= t <= 4:
            labels[t:t + 2, 2:5] = 1
        if t >= 3:
            labels[0, 8] = 3
        index.add(t, labels)
    objs = {o["id"]: o for o in index.to_json()}
    assert set(objs) == {1, 3}
    assert (objs[1]["first_frame"], objs[1]["last_frame"], objs[1]["num_frames"]) == (1, 4, 4)
    assert (objs[3]["first_frame"], objs[3]["last_frame"]) == (3, 5)
    frame2 = objs[1]["frames"][1]
    mask = rle.decode(frame2["rle"])
    expect = np.zeros((8, 9), bool)
    expect[2:4, 2:5] = True
    assert frame2["frame"] == 2 and frame2["area"] == 6 and (mask == expect).all()


# ------------------------------------------------------------------------------------- OutputWriter
def _info(w=40, h=30, work=(20, 16), path="x.mp4"):
    return VideoInfo(path=str(path), width=w, height=h, work_width=work[0], work_height=work[1], fps=24.0,
                     num_frames=6)


def _input(tmp_path, n=6, size=(40, 30)):
    """The input video the overlay reads its frames from (beside ``tmp_path``, not in it)."""
    from _video import write_video

    frames = np.random.default_rng(0).integers(0, 255, (n, size[1], size[0], 3), dtype=np.uint8)
    return write_video(str(tmp_path.parent / f"{tmp_path.name}-input.mp4"), frames)


def test_output_writer_round_trip_at_input_size(tmp_path):
    out = str(tmp_path / "out")
    prepare_output_dir(out, overwrite=False)
    info = _info(path=_input(tmp_path))
    writer = OutputWriter(out, info, RunConfig(write_overlay=True))
    frames = np.random.default_rng(0).integers(0, 255, (6, 16, 20, 3), dtype=np.uint8)
    labels = np.zeros((6, 16, 20), np.uint8)
    labels[:, 4:8, 6:12] = 1
    labels[3:, 10:14, 2:6] = 2
    writer.write(frames[:4], WindowMasks(start=0, labels=labels[:4], object_ids=[1, 2]))
    writer.write(frames[4:], WindowMasks(start=4, labels=labels[4:], object_ids=[1, 2]))
    paths = writer.finish({"frames": 6})
    # .motionseg-trt: the marker that lets a later --overwrite know these results are ours
    assert sorted(os.listdir(out)) == [".motionseg-trt", "masks", "objects.json", "overlay.mp4", "run.json"]
    assert sorted(os.listdir(os.path.join(out, "masks"))) == [f"{i:05d}.png" for i in range(6)]
    png = np.asarray(Image.open(os.path.join(out, "masks", "00004.png")))
    assert png.shape == (30, 40)  # the input's size, not the working size
    # nearest-neighbour upscaling by 2 in x and 30/16 in y keeps only labels 0, 1, 2
    assert set(np.unique(png)) == {0, 1, 2}
    assert (png[9:14, 13:23] == 1).all() and png[0, 0] == 0
    objects = json.load(open(paths["objects"]))
    by_id = {o["id"]: o for o in objects["objects"]}
    assert (by_id[1]["first_frame"], by_id[1]["last_frame"]) == (0, 5)
    assert (by_id[2]["first_frame"], by_id[2]["last_frame"]) == (3, 5)
    for o in objects["objects"]:
        for f in o["frames"]:
            png = np.asarray(Image.open(os.path.join(out, "masks", f"{f['frame']:05d}.png")))
            assert (rle.decode(f["rle"]) == (png == o["id"])).all()
    run = json.load(open(paths["run"]))
    assert run["frames"] == 6 and run["outputs"]["overlay"] == "overlay.mp4"
    with av.open(paths["overlay"]) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert len(list(c.decode(stream))) == 6


def test_frames_must_be_written_in_order(tmp_path):
    writer = OutputWriter(str(tmp_path), _info(), RunConfig(write_overlay=False))
    with pytest.raises(RuntimeError, match="in order"):
        writer.write(np.zeros((1, 16, 20, 3), np.uint8), WindowMasks(start=2, labels=np.zeros((1, 16, 20), np.uint8)))


def test_abort_leaves_no_partial_overlay(tmp_path):
    info = _info(path=_input(tmp_path))
    writer = OutputWriter(str(tmp_path), info, RunConfig(write_overlay=True))
    writer.write(np.zeros((2, 16, 20, 3), np.uint8), WindowMasks(start=0, labels=np.ones((2, 16, 20), np.uint8)))
    assert [n for n in os.listdir(tmp_path) if n.startswith(".overlay.mp4.tmp-") and n.endswith(".partial")]
    writer.abort()
    assert sorted(os.listdir(tmp_path)) == ["masks"]
    assert sorted(os.listdir(tmp_path / "masks")) == ["00000.png", "00001.png"]  # complete files are kept


# ------------------------------------------------------------------------------------- atomic
def test_atomic_write_never_shows_a_partial_file(tmp_path):
    target = tmp_path / "run.json"
    write_text(str(target), "old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(str(target)) as tmp:
            with open(tmp, "w") as f:
                f.write('{"half": ')
            raise KeyboardInterrupt
    assert target.read_text() == "old"  # the previous complete file is untouched
    assert os.listdir(tmp_path) == ["run.json"]  # and the temporary is gone


# ------------------------------------------------------------------------------------- output dir
def test_output_dir_rules(tmp_path):
    check_output_dir(str(tmp_path / "new"), overwrite=False)  # a new folder is fine
    check_output_dir(str(tmp_path), overwrite=False)  # an empty one too
    (tmp_path / "keep.txt").write_text("user file")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        check_output_dir(str(tmp_path), overwrite=False)
    with pytest.raises(OutputExistsError, match="not a folder"):
        check_output_dir(str(tmp_path / "keep.txt"), overwrite=True)


def test_overwrite_clears_only_previous_results(tmp_path):
    (tmp_path / "masks").mkdir()
    for i in range(5):
        (tmp_path / "masks" / f"{i:05d}.png").write_bytes(b"old")
    for name in ("run.json", "objects.json", "overlay.mp4", "overlay.mp4.partial", "notes.txt"):
        (tmp_path / name).write_text("old")
    # without our marker these could be anybody's (a dataset's masks/): refused
    with pytest.raises(OutputError, match="no motionseg-trt run wrote"):
        prepare_output_dir(str(tmp_path), overwrite=True)
    assert len(os.listdir(tmp_path / "masks")) == 5
    (tmp_path / ".motionseg-trt").write_text('{"format": "motionseg-trt output folder"}')
    prepare_output_dir(str(tmp_path), overwrite=True)
    assert sorted(os.listdir(tmp_path)) == [".motionseg-trt", "masks", "notes.txt"]
    assert os.listdir(tmp_path / "masks") == []


# ------------------------------------------------------------------------------------- writer thread
@pytest.mark.parametrize("max_pending", [0, 1])  # 0: synchronous
def test_background_writer_writes_everything_in_order(tmp_path, max_pending):
    from motionseg_trt.io.background import BackgroundWriter

    writer = BackgroundWriter(OutputWriter(str(tmp_path), _info(), RunConfig(write_overlay=False)),
                              max_pending=max_pending)
    for start in range(0, 6, 2):
        writer.write(np.zeros((2, 16, 20, 3), np.uint8),
                     WindowMasks(start=start, labels=np.full((2, 16, 20), start // 2 + 1, np.uint8)))
    writer.finish({})
    assert writer.frames_written == 6 and writer.busy_seconds > 0
    assert [np.asarray(Image.open(tmp_path / "masks" / f"{i:05d}.png"))[0, 0] for i in range(6)] == [1, 1, 2, 2, 3, 3]


def test_background_writer_raises_the_worker_error(tmp_path):
    from motionseg_trt.io.background import BackgroundWriter

    writer = BackgroundWriter(OutputWriter(str(tmp_path), _info(path=_input(tmp_path)), RunConfig(write_overlay=True)))
    writer.write(np.zeros((1, 16, 20, 3), np.uint8), WindowMasks(start=0, labels=np.zeros((1, 16, 20), np.uint8)))
    writer.write(np.zeros((1, 16, 20, 3), np.uint8), WindowMasks(start=5, labels=np.zeros((1, 16, 20), np.uint8)))
    with pytest.raises(RuntimeError, match="in order"):
        writer.drain()
    writer.abort()
    assert sorted(os.listdir(tmp_path)) == ["masks"]  # no partial overlay left


def test_object_index_keeps_its_records_on_disk_and_writes_the_same_json(tmp_path):
    """objects.json's per-frame RLE (about 2 KB a frame) is spilled to a temporary file: memory holds
    two integers per object and frame, and the JSON streamed out equals the in-memory one."""
    import io
    import tracemalloc

    rng = np.random.default_rng(0)
    index = ObjectIndex(str(tmp_path))
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for t in range(600):
        labels = np.zeros((120, 160), np.uint8)
        for obj, (y, x) in enumerate(rng.integers(0, 100, (3, 2)), start=1):
            labels[y:y + 20, x:x + 50] = obj  # ragged edges below: long RLE strings
            labels[y + 20, x:x + 50:2] = obj
        index.add(t, labels)
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert held < 120_000, held  # 1,800 records of ~100-200 bytes each would be several times that
    assert os.listdir(tmp_path) == []  # an unnamed file: nothing to leave behind, whatever happens
    f = io.StringIO()
    index.write_objects(f)
    objects = index.to_json()
    assert f.getvalue() == json.dumps(objects, separators=(",", ":"))
    assert [o["num_frames"] for o in objects] == [600, 600, 600]
    index.close()
