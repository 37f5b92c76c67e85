"""Decoding: containers, frame folders, rotation, downscaling, bad input, sliding windows."""
from __future__ import annotations

import numpy as np
import pytest
from _video import (make_audio_only, make_corrupt_video, make_pan_frames, make_truncated_video,
                    make_zero_frame_video, write_frame_folder, write_video)

from motionseg_trt.contracts import FrameWindow
from motionseg_trt.errors import InputError
from motionseg_trt.io.decode import DecodeStatus, open_frames
from motionseg_trt.io.geometry import rotate_frame, rotated_size, working_size
from motionseg_trt.io.windows import VideoSource


@pytest.fixture(scope="module")
def frames():
    return make_pan_frames(20, (96, 64), seed=3).frames


def _same_pictures(got, ref) -> bool:
    """Lossy coding changes pixels, not which picture is where: each decoded frame is closest to
    the source frame with its own index."""
    dist = np.abs(got[:, None].astype(np.int16) - ref[None].astype(np.int16)).mean(axis=(2, 3, 4))
    return bool((dist.argmin(axis=1) == np.arange(len(got))).all() and dist.diagonal().max() < 15)


def _read_all(path, max_side=960):
    with open_frames(path, max_side) as reader:
        return reader, np.stack(list(reader))


@pytest.mark.parametrize("suffix,fmt", [(".mp4", None), (".mkv", None), (".mov", None), (".ts", "mpegts")])
def test_containers_decode_every_frame(tmp_path, frames, suffix, fmt):
    path = write_video(str(tmp_path / f"clip{suffix}"), frames, container_format=fmt)
    reader, got = _read_all(path)
    assert got.shape == frames.shape and got.dtype == np.uint8
    assert reader.status.complete and reader.status.frames_decoded == len(frames)
    assert reader.info.width == 96 and reader.info.height == 64 and reader.info.fps == pytest.approx(24.0)
    assert _same_pictures(got, frames)


def test_other_codec(tmp_path, frames):
    path = write_video(str(tmp_path / "clip.avi"), frames, codec="mpeg4")
    reader, got = _read_all(path)
    assert got.shape == frames.shape and reader.status.complete


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_frame_folder(tmp_path, frames, ext):
    folder = write_frame_folder(str(tmp_path / "frames"), frames, ext=ext, pattern="img{}")  # img2 < img10
    (tmp_path / "frames" / "notes.txt").write_text("ignored")
    reader, got = _read_all(folder)
    assert got.shape == frames.shape
    assert reader.info.num_frames == len(frames)
    if ext == "png":
        assert (got == frames).all()  # lossless, natural order (img2 before img10)
    assert _same_pictures(got, frames)


def test_frame_folder_size_change_stops_with_decoded_frames_kept(tmp_path, frames):
    folder = write_frame_folder(str(tmp_path / "frames"), frames[:6])
    from PIL import Image

    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "frames" / "00006.png")
    reader, got = _read_all(folder)
    assert len(got) == 6 and reader.status.stopped_at == 6 and "00006.png" in reader.status.error


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_metadata_is_applied(tmp_path, frames, rotation):
    path = write_video(str(tmp_path / "rot.mp4"), frames[:4], rotation=rotation)
    reader, got = _read_all(path)
    assert reader.info.rotation == rotation
    expect = rotate_frame(frames[0], rotation)
    assert (reader.info.width, reader.info.height) == (expect.shape[1], expect.shape[0])
    assert got.shape[1:3] == expect.shape[:2]
    assert _same_pictures(got, np.stack([rotate_frame(f, rotation) for f in frames[:4]]))


def test_rotate_frame_matches_a_player():
    img = np.zeros((2, 3), np.uint8)
    img[0, 2] = 1  # top-right corner
    # 90 degrees counter-clockwise: the top-right corner goes to the top-left
    assert rotate_frame(img, 90)[0, 0] == 1 and rotate_frame(img, 90).shape == (3, 2)
    assert rotate_frame(img, -90)[2, 1] == 1  # clockwise: to the bottom-right
    assert rotate_frame(img, 180)[1, 0] == 1
    assert rotated_size(640, 480, 270) == (480, 640)


def test_working_size():
    assert working_size(854, 480, 960) == (854, 480)  # small enough: untouched
    assert working_size(3840, 2160, 960) == (960, 540)
    assert working_size(1080, 1920, 960) == (540, 960)  # portrait: the longest side is the height
    w, h = working_size(1001, 333, 500)
    assert w % 2 == 0 and h % 2 == 0 and w <= 500 and abs(w / h - 1001 / 333) < 0.02
    assert working_size(321, 241, 960) == (320, 240)  # even sizes, never larger than the input


def test_large_input_is_downscaled(tmp_path):
    clip = make_pan_frames(3, (400, 240), seed=1)
    path = write_video(str(tmp_path / "big.mp4"), clip.frames)
    reader, got = _read_all(path, max_side=200)
    assert (reader.info.width, reader.info.height) == (400, 240)
    assert (reader.info.work_width, reader.info.work_height) == (200, 120)
    assert got.shape == (3, 120, 200, 3)


def test_missing_file():
    with pytest.raises(InputError, match="not found"):
        open_frames("/nonexistent/clip.mp4")


def test_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 20)
    with pytest.raises(InputError, match="not a video"):
        open_frames(str(path))


def test_no_video_stream(tmp_path):
    with pytest.raises(InputError, match="no video stream.*audio"):
        open_frames(make_audio_only(str(tmp_path / "sound.m4a")))


def test_zero_frames(tmp_path):
    with pytest.raises(InputError, match="zero frames"):
        open_frames(make_zero_frame_video(str(tmp_path / "empty.mkv")))


def test_empty_folder(tmp_path):
    with pytest.raises(InputError, match="no image frames"):
        open_frames(str(tmp_path))


def test_corrupt_stream_keeps_decoded_frames(tmp_path):
    clip = make_pan_frames(24, (96, 64), seed=2)
    path = make_corrupt_video(str(tmp_path / "bad.mp4"), clip.frames, bad_packet=12)
    reader, got = _read_all(path)
    status = reader.status
    assert not status.complete and "decoding failed" in status.error
    assert 0 < status.frames_decoded == len(got) == status.stopped_at < 24
    assert _same_pictures(got, clip.frames[: len(got)])


def test_truncated_stream_is_reported(tmp_path):
    clip = make_pan_frames(24, (96, 64), seed=2)
    path = make_truncated_video(str(tmp_path / "cut.mp4"), clip.frames, keep=0.5)
    reader, got = _read_all(path)
    assert not reader.status.complete and "announces 24" in reader.status.error
    assert 0 < len(got) == reader.status.stopped_at < 24


# ----------------------------------------------------------------------------- sliding windows
class _CountingReader:
    """Frames whose pixels hold their index; counts how many frames are alive at once."""

    def __init__(self, n):
        self.n = n
        self.status = DecodeStatus()
        self.info = None

    def __iter__(self):
        for i in range(self.n):
            self.status.frames_decoded += 1
            yield np.full((2, 2, 3), i % 256, np.uint8)


@pytest.mark.parametrize("n", [1, 7, 16, 17, 31, 32, 33, 47, 48, 100])
@pytest.mark.parametrize("window,stride", [(16, 8), (16, 16), (16, 1), (5, 3), (1, 1)])
def test_every_frame_emitted_exactly_once(n, window, stride):
    source = VideoSource(_CountingReader(n), window, stride)
    windows: list[FrameWindow] = list(source)
    emitted = [i for w in windows for i in w.emit_range]
    assert emitted == list(range(n))
    for k, w in enumerate(windows):
        assert w.index == k
        assert w.length == min(window, n)  # the last window keeps its full length when it can
        assert (w.frames[:, 0, 0, 0] == np.arange(w.start, w.start + w.length) % 256).all()
        if k == 0:
            assert w.emit_from == 0 and w.start == 0
        elif not w.is_last:
            assert w.emit_from == window - stride and w.start == k * stride
    assert windows[-1].is_last and not any(w.is_last for w in windows[:-1])
    # bounded memory: the window plus one frame of look-ahead, whatever the length of the video
    assert source.max_frames_held <= window + 1


def test_memory_stays_flat_on_a_long_stream():
    source = VideoSource(_CountingReader(5000), 32, 16)
    count = sum(len(w.emit_range) for w in source)
    assert count == 5000 and source.max_frames_held <= 33


def test_offline_is_one_window():
    windows = list(VideoSource(_CountingReader(40), 8, 4, offline=True))
    assert len(windows) == 1 and windows[0].length == 40 and windows[0].is_last
    assert list(windows[0].emit_range) == list(range(40))


@pytest.mark.parametrize("window,stride", [(0, 1), (8, 0), (8, 9)])
def test_bad_window_stride(window, stride):
    with pytest.raises(ValueError):
        VideoSource(_CountingReader(3), window, stride)


def test_windows_from_a_real_video(tmp_path, frames):
    path = write_video(str(tmp_path / "clip.mp4"), frames)
    with open_frames(path) as reader:
        source = VideoSource(reader, 8, 5)
        windows = list(source)
    assert [i for w in windows for i in w.emit_range] == list(range(len(frames)))
    assert windows[1].start == 5 and windows[1].emit_from == 3


def test_frame_folder_exif_orientation(tmp_path):
    from PIL import Image

    img = np.zeros((20, 30, 3), np.uint8)
    img[0, -1] = 255  # the stored top-right pixel
    folder = tmp_path / "photos"
    folder.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(img).save(folder / "a.png", exif=exif)
    reader, got = _read_all(str(folder))
    assert reader.info.rotation == 270 and (reader.info.width, reader.info.height) == (20, 30)
    assert got.shape == (1, 30, 20, 3)
    assert got[0, -1, -1].max() == 255  # turned clockwise: the top-right pixel is now bottom-right


@pytest.mark.parametrize("prefetch", [1, 4])
def test_prefetch_gives_the_same_windows(prefetch):
    plain = [(w.start, w.emit_from, w.is_last, w.frames.copy()) for w in VideoSource(_CountingReader(50), 8, 3)]
    source = VideoSource(_CountingReader(50), 8, 3, prefetch=prefetch)
    ahead = [(w.start, w.emit_from, w.is_last, w.frames) for w in source]
    source.close()
    assert len(plain) == len(ahead)
    for a, b in zip(plain, ahead):
        assert a[:3] == b[:3] and (a[3] == b[3]).all()


def test_prefetch_stops_when_closed_early_and_forwards_errors():
    import threading

    from motionseg_trt.io.prefetch import Prefetcher

    source = VideoSource(_CountingReader(10_000), 4, 2, prefetch=2)
    windows = iter(source)
    next(windows)
    source.close()  # the worker is blocked on a full queue: close must still return
    assert not any(t.name == "motionseg-decode" and t.is_alive() for t in threading.enumerate())

    def broken():
        yield 1
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in Prefetcher(broken(), 2):
            got.append(item)
    assert got == [1]


# ----------------------------------------------------------------------------- frame rates, sizes
def test_a_variable_frame_rate_mkv_that_decodes_cleanly_is_complete(tmp_path):
    """30 frames shown at irregular times over 5 s: the container's estimate (duration x 1000 fps) is
    thousands of frames; the timestamps, not that estimate, say the stream is whole."""
    from _video import make_vfr_mkv

    gaps = np.random.default_rng(0).choice([1 / 60, 1 / 30, 1 / 10, 0.5], size=30)
    times = np.concatenate([[0.0], np.cumsum(gaps[:-1])])
    path = make_vfr_mkv(str(tmp_path / "vfr.mkv"), make_pan_frames(30, (96, 64), seed=4).frames, times)
    reader, got = _read_all(path)
    assert reader.info.num_frames > 1000  # the estimate is wildly off ...
    assert len(got) == 30 and reader.status.complete, reader.status.error  # ... and not taken for the truth


def test_a_truncated_mkv_is_still_reported(tmp_path):
    """Matroska announces no frame count, only a duration: a file cut in half ends at half of it."""
    clip = make_pan_frames(48, (96, 64), seed=2)
    full = write_video(str(tmp_path / "full.mkv"), clip.frames, container_format="matroska")
    data = open(full, "rb").read()
    with open(tmp_path / "cut.mkv", "wb") as f:
        f.write(data[: len(data) // 2])
    reader, got = _read_all(str(tmp_path / "cut.mkv"))
    assert not reader.status.complete and "announces 2.00 s" in reader.status.error
    assert 0 < len(got) == reader.status.stopped_at < 48


def test_a_size_change_inside_the_stream_is_recorded(tmp_path):
    from _video import make_size_change_stream

    path = make_size_change_stream(str(tmp_path / "ab.h264"), make_pan_frames(10, (96, 64), seed=1).frames,
                                   make_pan_frames(10, (128, 96), seed=1).frames)
    reader, got = _read_all(path)
    assert got.shape == (20, 64, 96, 3)  # every frame at the first frame's (working) size
    assert reader.status.size_changes == [(10, 128, 96)] and reader.status.complete


@pytest.mark.parametrize("size, max_side, needle", [((10, 10), 960, "too small"), ((64, 48), 8, "--max-side 8"),
                                                    ((200, 10), 960, "too small")])
def test_frames_too_small_for_the_stages_are_refused(tmp_path, size, max_side, needle):
    """OpenCV's DIS flow needs 12 x 12: smaller frames (or a --max-side that makes them so) are bad
    input, refused before anything runs (they used to crash the tracker with a cv2.error)."""
    pictures = np.random.default_rng(0).integers(0, 255, (4, size[1], size[0], 3), dtype=np.uint8)
    path = write_video(str(tmp_path / "tiny.mp4"), pictures)
    with pytest.raises(InputError, match=needle):
        open_frames(path, max_side)
    folder = write_frame_folder(str(tmp_path / "tiny") + "/", pictures[:2])
    with pytest.raises(InputError, match=needle):
        open_frames(folder, max_side)


def test_a_fifo_or_a_folder_named_like_a_frame_is_not_a_frame(tmp_path, frames):
    """A FIFO called 00003.png would block the reader forever; a folder called x.jpg cannot be read."""
    import os

    folder = write_frame_folder(str(tmp_path / "f") + "/", frames[:6])
    os.remove(os.path.join(folder, "00003.png"))
    os.mkfifo(os.path.join(folder, "00003.png"))
    os.mkdir(os.path.join(folder, "x.jpg"))
    reader, got = _read_all(folder)
    assert len(got) == 5 and reader.status.complete
