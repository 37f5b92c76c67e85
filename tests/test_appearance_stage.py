"""The appearance features stage: key frames, maps carried along the flow between them, reuse across
overlapping windows; and the flow carry itself."""
import numpy as np
import pytest

from motionseg_trt.features.appearance.propagate import warp_to_next


def test_warp_to_next_moves_a_map_with_the_flow():
    prev = np.zeros((40, 60), np.float32)
    prev[10:20, 10:20] = 1.0
    # every pixel of the next frame came from 4 working px to the left (working res twice the map's)
    flow_back = np.zeros((20, 30, 2), np.float32)
    flow_back[..., 0] = -4.0
    moved = warp_to_next(prev, flow_back, (80, 120))
    ys, xs = np.nonzero(moved > 0.5)
    assert (ys.min(), ys.max()) == (10, 19) and (xs.min(), xs.max()) == (12, 21)


def test_zero_flow_keeps_the_map():
    prev = np.random.default_rng(0).random((24, 32)).astype(np.float32)
    assert np.allclose(warp_to_next(prev, np.zeros((6, 8, 2), np.float32), (24, 32)), prev, atol=1e-6)


def _disk_clip(n=12, h=120, w=160, step=4):
    from _video import texture

    frames = []
    bg = texture(h, w, seed=3) // 3 + 60  # dim, low-contrast background
    skin = texture(h, w + step * n, seed=4)  # the disk carries its own texture (flow needs some)
    skin = (skin // 2 + np.array([128, 0, 0], np.uint8)).astype(np.uint8)
    yy, xx = np.mgrid[:h, :w]
    for t in range(n):
        f = bg.copy()
        cx = 40 + step * t
        disk = (yy - 60) ** 2 + (xx - cx) ** 2 < 18 ** 2
        moved = skin[:, step * (n - t):step * (n - t) + w]  # the texture travels with the disk
        f[disk] = moved[disk]
        frames.append(f)
    return np.stack(frames).astype(np.uint8)


def _networks_or_skip():
    pytest.importorskip("torch")
    from motionseg_trt.features.appearance import packaged

    try:
        packaged.locate(packaged.U2NETP), packaged.locate(packaged.EFFICIENTNET_LITE0)
    except Exception as exc:  # noqa: BLE001 - the packages are dev extras
        pytest.skip(str(exc))


@pytest.mark.slow
def test_stage_runs_networks_on_key_frames_only_and_carries_saliency(tmp_path):
    _networks_or_skip()
    from motionseg_trt.config import RunConfig
    from motionseg_trt.features.appearance.stage import AppearanceFeatures
    from motionseg_trt.tracks.flow_tracker import FlowTracker
    from _scenes import windows

    frames = _disk_clip()
    config = RunConfig(window=8, stride=4, engine_cache=str(tmp_path), threads=1, motion_model="appearance",
                       extra={"appearance_every": 4, "saliency_side": 96, "backbone_side": 64})
    tracker = FlowTracker(config)
    tracks = [tracker.track(w) for w in windows(frames, 8, 4)]

    def run(stage, ahead):
        calls, maps, outputs = [], {}, []
        key_frames = stage._key_frames
        stage._key_frames = lambda w: calls.extend(sorted(out := key_frames(w))) or out
        for w, t in zip(windows(frames, 8, 4), tracks):
            if ahead:  # as the pipeline does: the networks start before the tracker runs
                stage.begin(w)
            feats = stage.extract(w, t)
            assert feats.saliency.shape[0] == w.length and feats.dino.shape[0] == len(feats.dino_frames) >= 1
            assert feats.dino.shape[-1] == 433
            assert all((w.start + k) % 4 == 0 for k in feats.dino_frames)
            for local in range(w.length):
                maps[w.start + local] = feats.saliency[local]
            outputs.append(feats)
        stage.close()
        return calls, maps, outputs

    calls, maps, outputs = run(AppearanceFeatures(config, log=lambda m: None), ahead=False)
    calls_ahead, _, outputs_ahead = run(AppearanceFeatures(config, log=lambda m: None), ahead=True)
    assert calls_ahead == calls
    for a, b in zip(outputs, outputs_ahead):  # the worker thread changes when, not what
        np.testing.assert_array_equal(a.saliency, b.saliency)
        np.testing.assert_array_equal(a.dino, b.dino)
    assert calls == [0, 4, 8]  # each key frame once, though windows overlap
    # the carried map follows the disk: the salient centre of frame 3 lies right of frame 0's
    def centre_x(m):
        ys, xs = np.nonzero(m > 0.5)
        return xs.mean() * 160 / m.shape[1]
    assert centre_x(maps[3]) - centre_x(maps[0]) == pytest.approx(12, abs=4)


@pytest.mark.slow
def test_every_window_gets_backbone_maps_when_key_frames_are_sparser_than_windows(tmp_path):
    _networks_or_skip()
    from motionseg_trt.config import RunConfig
    from motionseg_trt.features.appearance.stage import AppearanceFeatures
    from motionseg_trt.tracks.flow_tracker import FlowTracker
    from _scenes import windows

    frames = _disk_clip(n=12)
    config = RunConfig(window=4, stride=2, engine_cache=str(tmp_path), threads=1, motion_model="appearance",
                       extra={"appearance_every": 8, "saliency_side": 96, "backbone_side": 64})
    tracker, stage = FlowTracker(config), AppearanceFeatures(config, log=lambda m: None)
    keys = []
    for w in windows(frames, 4, 2):
        feats = stage.extract(w, tracker.track(w))
        assert len(feats.dino_frames) >= 1  # the labeller always has a map to read
        keys += [w.start + int(k) for k in feats.dino_frames]
    assert sorted(set(keys)) == [0, 4, 8]  # 0 and 8 by the period; 4 because the window 4..7 held none
    # a scene cut: nothing carried, the new scene's first frame is a key frame
    stage.reset()
    from motionseg_trt.contracts import FrameWindow

    w = FrameWindow(index=9, start=13, frames=frames[:4], emit_from=0, is_last=True)
    feats = stage.extract(w, tracker.track(w))
    assert list(feats.dino_frames) == [0, 3]  # 13 opens the scene, 16 by the period


def test_the_backbone_runs_only_for_a_labeller_that_reads_it():
    from motionseg_trt.config import RunConfig
    from motionseg_trt.features.appearance import packaged
    from motionseg_trt.features.appearance.stage import AppearanceFeatures

    try:
        packaged.locate(packaged.U2NETP), packaged.locate(packaged.EFFICIENTNET_LITE0)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))
    assert AppearanceFeatures(RunConfig(motion_model="appearance")).with_backbone
    assert not AppearanceFeatures(RunConfig(motion_model="geometric")).with_backbone
