"""The shipped learned classifier: loads, runs through both backends, separates motion from look-alikes."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from motionseg_trt.config import RunConfig  # noqa: E402
from motionseg_trt.contracts import FrameWindow  # noqa: E402
from motionseg_trt.errors import ModelFileError  # noqa: E402
from motionseg_trt.motion.learned import (LearnedLabeller, default_weights_path, load_weights,  # noqa: E402
                                          select)
from motionseg_training.synth import SceneConfig, generate_clip  # noqa: E402
from motionseg_trt.tracks.flow_tracker import FlowTracker  # noqa: E402

# Generated clips outside the training (0..199) and validation (1000000..) seeds: the first seeds from
# 3000000 whose scene has both a moving object and a static object (each with >= 20 tracks), at the
# training resolution and window length. They are chosen by scene content, not by model output.
HELD_OUT_SEEDS = (3_000_000, 3_000_002, 3_000_003, 3_000_004)


def _tracked(seed):
    clip = generate_clip(seed, SceneConfig(width=320, height=180, num_frames=32))
    window = FrameWindow(index=0, start=0, frames=clip.frames, emit_from=0, is_last=True)
    tracks = FlowTracker(RunConfig()).track(window)
    n = np.arange(tracks.num_tracks)
    inst = clip.instance_at(tracks.xy[n, tracks.query_frame], tracks.query_frame)
    return clip, window, tracks, inst


@pytest.fixture(scope="module")
def held_out():
    return [_tracked(s) for s in HELD_OUT_SEEDS]


def test_shipped_weights_load_and_are_small():
    path = default_weights_path()
    assert path.is_file(), "the embedded classifier weights must ship in the package"
    assert path.stat().st_size < 5 * 1024 * 1024
    model, meta = load_weights(path)
    # no DINO; the depth slot carries the geometric camera residuals (model card)
    assert model.config.use_dino is False and model.config.use_depth is True
    assert meta["evidence"] == "camera_residual" and 0.0 < float(meta["threshold"]) < 1.0
    assert (path.parent / path.name.replace(".safetensors", ".md")).is_file()  # the model card


def test_missing_or_foreign_weights_are_clear_errors(tmp_path):
    with pytest.raises(ModelFileError):
        LearnedLabeller(RunConfig(backend="torch", extra={"learned_weights": str(tmp_path / "nope.safetensors")}))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelFileError):
        load_weights(bad)


@pytest.mark.slow
def test_moving_object_tracks_score_above_static_objects(held_out):
    """The v2 weights, scoring every track, separate moving objects from the background on every
    held-out clip, and from their static look-alikes on most (measured per clip: AUC vs background
    0.81 / 0.98 / 0.98 / 0.93, vs static objects 0.41 / 0.87 / 0.95 / 0.51; the geometric labeller:
    0.66 / 0.96 / 0.98 / 0.92 and 0.37 / 0.82 / 0.92 / 0.52)."""
    from motionseg_training.trainer import roc_auc

    labeller = LearnedLabeller(RunConfig(backend="torch", threads=1, extra={"learned_min_prior_logit": -12}))
    wins, vs_static, vs_background = 0, [], []
    for clip, window, tracks, inst in held_out:
        out = labeller.label(window, tracks, None)
        assert out.prob.shape == (tracks.num_tracks,) and out.moving.dtype == bool
        moving = np.isin(inst, list(clip.moving_ids))
        static_obj = np.isin(inst, list(clip.static_ids))
        background = ~(moving | static_obj)
        assert moving.sum() >= 20 and static_obj.sum() >= 20
        wins += out.moving[moving].mean() > out.moving[static_obj].mean()
        sel = moving | static_obj
        vs_static.append(roc_auc(out.prob[sel], moving[sel]))
        sel = moving | background
        vs_background.append(roc_auc(out.prob[sel], moving[sel]))
        assert out.moving[background].mean() < 0.1  # few background tracks are called moving
    assert wins >= 3  # moving objects' tracks are selected more often than static objects' in 3 of 4 clips
    assert min(vs_background) > 0.75
    assert np.median(vs_static) > 0.6


@pytest.mark.slow
def test_only_plausible_tracks_are_scored(held_out):
    """By default the model scores only the tracks whose geometric prior logit exceeds -2, among
    themselves; the others keep the geometric probability and are never selected."""
    from motionseg_trt.motion.learned import score_tracks, track_rows
    from motionseg_trt.motion.residual_features import camera_residual_evidence

    clip, window, tracks, inst = held_out[1]
    labeller = LearnedLabeller(RunConfig(backend="torch", threads=1))
    assert labeller.min_prior_logit == -2.0
    out = labeller.label(window, tracks, None)
    ev = camera_residual_evidence(tracks, window.frames.shape[1:3])
    plausible = ev.prior_logit > -2.0
    assert 0 < plausible.sum() < 0.5 * tracks.num_tracks
    prior = (1.0 / (1.0 + np.exp(-ev.prior_logit.astype(np.float64)))).astype(np.float32)
    assert np.array_equal(out.prob[~plausible], prior[~plausible])
    assert not out.moving[~plausible].any()
    # the plausible tracks get exactly what scoring them alone gives
    rows = np.flatnonzero(plausible)
    alone = score_tracks(labeller.predictor, track_rows(tracks, rows), window.frames.shape[1:3], chunk=labeller.chunk,
                         seed=labeller.seed + window.index, evidence=ev.subset(rows))
    assert np.array_equal(out.prob[rows], alone)
    # and they are scored by the model: not the prior's probability
    assert np.abs(out.prob[rows] - prior[rows]).max() > 0.05
    # scoring every track (the bound of the prior or below) selects nearly the same moving set here
    full = LearnedLabeller(RunConfig(backend="torch", threads=1, extra={"learned_min_prior_logit": -12})).label(
        window, tracks, None)
    assert not np.array_equal(full.prob[~plausible], prior[~plausible])
    agree = np.mean(full.moving[rows] == out.moving[rows])
    assert agree > 0.9
    moving = np.isin(inst, list(clip.moving_ids))
    background = ~(moving | np.isin(inst, list(clip.static_ids)))
    assert out.moving[moving].mean() > 0.7 and out.moving[background].mean() < 0.05  # measured 0.84 / 0.026


@pytest.mark.slow
def test_onnxruntime_backend_matches_torch(held_out, tmp_path):
    _, window, tracks, _ = held_out[0]
    sub = type(tracks)(xy=tracks.xy[:300], visible=tracks.visible[:300], confidence=tracks.confidence[:300],
                       ids=tracks.ids[:300], query_frame=tracks.query_frame[:300])
    every = {"learned_min_prior_logit": -12}  # the model scores every track: the backends are compared
    ref = LearnedLabeller(RunConfig(backend="torch", threads=1, extra=every)).label(window, sub, None)
    ort = LearnedLabeller(RunConfig(backend="onnxruntime", threads=1, engine_cache=str(tmp_path),
                                    extra=every)).label(window, sub, None)
    assert np.abs(ref.prob - ort.prob).max() < 1e-4
    assert list(tmp_path.glob("onnx/learned_classifier_*.onnx"))  # exported once into the engine cache


@pytest.mark.slow
def test_exported_graph_runs_without_importing_torch(held_out, tmp_path, capsys):
    """Once its graph is in the engine cache, the learned labeller (ONNX Runtime) neither imports torch
    nor changes its scores: torch's import is most of a short clip's start-up."""
    import json
    import subprocess
    import sys

    _, window, tracks, _ = held_out[0]
    first = LearnedLabeller(RunConfig(backend="onnxruntime", threads=1, engine_cache=str(tmp_path)))
    want = first.label(window, tracks, None).prob  # exports the graph into tmp_path
    assert "exporting learned_classifier" in capsys.readouterr().err  # the first run says why it waits
    np.savez(tmp_path / "in.npz", frames=window.frames, xy=tracks.xy, visible=tracks.visible,
             confidence=tracks.confidence, ids=tracks.ids, query=tracks.query_frame)
    script = f"""
import json, sys
import numpy as np
from motionseg_trt.config import RunConfig
from motionseg_trt.contracts import FrameWindow, Tracks
from motionseg_trt.motion.learned import LearnedLabeller
z = np.load({str(tmp_path / "in.npz")!r})
tracks = Tracks(xy=z["xy"], visible=z["visible"], confidence=z["confidence"], ids=z["ids"], query_frame=z["query"])
window = FrameWindow(index=0, start=0, frames=z["frames"], emit_from=0, is_last=True)
labeller = LearnedLabeller(RunConfig(backend="onnxruntime", threads=1, engine_cache={str(tmp_path)!r}))
np.save({str(tmp_path / "prob.npy")!r}, labeller.label(window, tracks, None).prob)
print(json.dumps({{"torch": "torch" in sys.modules}}))
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"torch": False}
    assert "exporting" not in proc.stderr
    np.testing.assert_allclose(np.load(tmp_path / "prob.npy"), want, atol=1e-6)


def test_selection_rule():
    p = np.array([0.9] * 12 + [0.1] * 5, np.float32)
    assert select(p, 0.5, 10).sum() == 12
    p = np.array([0.9, 0.8, 0.45, 0.3, 0.1], np.float32)  # too few above the threshold: the top 3
    m = select(p, 0.5, 10)          # that are at least plausible (above half the threshold)
    assert m.tolist() == [True, True, True, False, False]
    assert not select(np.full(20, 0.05, np.float32), 0.5, 10).any()


def test_network_spec_reads_the_chunk_as_the_labeller_does():
    """``build`` and a run describe the same graph: the chunk option sets the track profile, and a
    wrong-typed value is the same usage error as on ``run``."""
    from motionseg_trt.errors import OptionError
    from motionseg_trt.motion.learned import learned_network

    spec = learned_network(RunConfig(window=16, extra={"learned_chunk": "64"}))
    assert spec.graph().profiles["traj"][1:] == ((1, 64, 16, 2), (1, 64, 16, 2))
    with pytest.raises(OptionError, match="learned_chunk=2.5: expected int"):
        learned_network(RunConfig(extra={"learned_chunk": "2.5"}))
