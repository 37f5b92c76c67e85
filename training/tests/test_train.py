"""Training on tracker-labelled generated clips: data pipeline, loss, a few optimisation steps."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from motionseg_training.data import DataConfig, build_dataset, read_shard, track_clip  # noqa: E402
from motionseg_training.trainer import (EMBEDDED_MODEL, TrainConfig, _batch, fused_attention,  # noqa: E402
                                         roc_auc, train, weighted_bce)

TINY = DataConfig(width=96, height=64, window=8, stride=4, windows_per_clip=2, max_tracks=96)


def test_track_clip_labels_follow_gt_masks():
    from motionseg_training.synth import SceneConfig, generate_clip

    seed = 1
    clip = generate_clip(seed, SceneConfig(width=TINY.width, height=TINY.height, num_frames=TINY.clip_frames))
    samples = track_clip(seed, TINY)
    assert len(samples) == 2
    for s in samples:
        n = len(s.label)
        assert s.xy.shape == (n, TINY.window, 2) and s.visible.shape == (n, TINY.window)
        assert s.visible.any(1).all()  # every kept track is seen at least once
        # the label is "the GT instance under the track at its query frame moves on its own"
        q = s.query + s.window_start
        inst = clip.instance_at(s.xy[np.arange(n), s.query], q)
        assert np.array_equal(inst, s.instance)
        assert np.array_equal(s.label, np.isin(inst, list(clip.moving_ids)))


def test_dataset_cache_roundtrip(tmp_path):
    a = build_dataset(tmp_path, [2, 3], TINY, shard_size=2, progress=False)
    shards = list(tmp_path.glob("data-*/seeds-*.npz"))
    assert len(shards) == 1
    b = read_shard(shards[0])
    assert len(a) == len(b) == 4
    for x, y in zip(a, b):
        assert np.array_equal(x.xy, y.xy) and np.array_equal(x.label, y.label)
        assert np.array_equal(x.visible, y.visible) and x.clip_seed == y.clip_seed


def test_weighted_bce_balances_classes():
    logits = torch.zeros(1, 4)
    y = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    pad = torch.zeros(1, 4, dtype=torch.bool)
    # equal total weight on the one positive and the three negatives: loss = log 2 at logit 0
    assert abs(float(weighted_bce(logits, y, pad)) - np.log(2)) < 1e-6
    # a confident wrong positive costs as much as three confident wrong negatives together
    l1 = weighted_bce(torch.tensor([[-5.0, -5, -5, -5]]), y, pad)
    l2 = weighted_bce(torch.tensor([[5.0, 5, 5, 5]]), y, pad)
    assert abs(float(l1) - float(l2)) < 1e-4


def test_auc():
    assert roc_auc(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1])) == 1.0
    assert roc_auc(np.array([0.9, 0.8, 0.2, 0.1]), np.array([0, 0, 1, 1])) == 0.0
    assert abs(roc_auc(np.array([0.5, 0.5]), np.array([0, 1])) - 0.5) < 1e-9


def test_fused_training_attention_matches_exportable_form():
    from motionseg_trt.motion.classifier.modeling import ClassifierConfig, TrajectoryClassifier

    torch.manual_seed(0)
    model = TrajectoryClassifier(ClassifierConfig.from_dict(EMBEDDED_MODEL)).eval()
    samples = track_clip(1, TINY)
    inputs, pad, _, _ = _batch(samples, model.config, np.random.default_rng(0), 64, False)
    with torch.no_grad():
        ref = model(**inputs, track_pad=pad)
        with fused_attention():
            fused = model(**inputs, track_pad=pad)
    assert torch.allclose(ref, fused, atol=1e-4)


@pytest.mark.slow
def test_a_few_steps_reduce_the_loss(tmp_path):
    torch.manual_seed(0)
    cfg = TrainConfig(out=str(tmp_path / "run"), cache_dir=str(tmp_path / "cache"), train_clips=3, val_clips=1,
                      epochs=1, batch=2, tracks=64, lr=3e-3, max_steps=24, data=TINY, log_every=1000)
    info = train(cfg, log=lambda *_: None)
    losses = np.array(info["losses"])
    assert len(losses) == 24
    assert losses[-6:].mean() < losses[:6].mean()
    from motionseg_trt.motion.learned import load_weights

    model, meta = load_weights(tmp_path / "run" / "model.safetensors")
    assert model.config.use_dino is False and model.config.use_depth is False
    assert "val" in meta


def test_dataset_key_names_the_data_and_the_tracker(monkeypatch):
    """Same configuration, same cached dataset; a generator setting or a change of the tracker's
    defaults (other tracks) makes a key of its own."""
    from motionseg_trt.tracks import flow, flow_tracker

    key = DataConfig().key()
    assert DataConfig().key() == key and DataConfig(scene={}).key() == key
    assert DataConfig(scene={"water_p": 0.2}).key() != key
    import dataclasses

    changed = tuple(dataclasses.replace(o, default=0.6) if o.name == "fb_abs" else o for o in flow_tracker.OPTIONS)
    monkeypatch.setattr(flow_tracker, "OPTIONS", changed)
    assert DataConfig().key() != key
    monkeypatch.undo()
    monkeypatch.setattr(flow, "FINEST_SIDE", 240)
    assert DataConfig().key() != key


def test_generator_settings_reach_the_clips(tmp_path):
    plain = track_clip(3, TINY)
    watery = track_clip(3, DataConfig(**{**TINY.__dict__, "scene": {"water_p": 1.0, "smooth_p": 1.0}}))
    assert any(not np.array_equal(a.xy, b.xy) for a, b in zip(plain, watery))


@pytest.mark.slow
@pytest.mark.parametrize("evidence", ["camera_residual", "camera_stabilised"])
def test_camera_residual_evidence_training(tmp_path, evidence):
    """Training with the geometric evidence: the depth slot carries the residuals, the geometric logit
    is the prior, the threshold is chosen on validation; the learned labeller reads it all back."""
    from motionseg_trt.config import RunConfig
    from motionseg_trt.contracts import FrameWindow
    from motionseg_trt.motion.learned import LearnedLabeller, load_weights

    torch.manual_seed(0)
    model_cfg = dict(EMBEDDED_MODEL, use_depth=True)
    cfg = TrainConfig(out=str(tmp_path / "run"), cache_dir=str(tmp_path / "cache"), train_clips=3, val_clips=1,
                      epochs=1, batch=2, tracks=64, lr=3e-3, max_steps=24, data=TINY, log_every=1000,
                      evidence=evidence, threshold=-1.0, model=model_cfg)
    info = train(cfg, log=lambda *_: None)
    losses = np.array(info["losses"])
    assert losses[-6:].mean() < losses[:6].mean()
    path = tmp_path / "run" / "model.safetensors"
    model, meta = load_weights(path)
    assert model.config.use_depth is True and meta["evidence"] == evidence
    assert 0.0 < float(meta["threshold"]) < 1.0
    sample = track_clip(7, TINY)[0]
    frames = np.zeros((TINY.window, TINY.height, TINY.width, 3), np.uint8)
    window = FrameWindow(index=0, start=0, frames=frames, emit_from=0, is_last=True)
    labels = LearnedLabeller(RunConfig(backend="torch", extra={"learned_weights": str(path)})).label(
        window, sample.tracks, None)
    assert labels.prob.shape == (len(sample.label),) and np.all((labels.prob >= 0) & (labels.prob <= 1))


@pytest.mark.parametrize("argv, needle", [
    (["--size", "320"], "--size must be WIDTHxHEIGHT"),
    (["--scene", "water=0.2"], "--scene takes KEY=VALUE"),
    (["--scene", "water_p=lots"], "is not a float"),
    (["--seeds", "5-1"], "rising ranges"),
    (["--seeds", "0-x"], "rising ranges"),
    (["--seeds", ","], "names no seed"),
    (["--seeds", "999999-1000001"], "must stay below"),
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--batch", "0"], "--batch must be at least 1"),
    (["--lr", "0"], "--lr must be a finite number above 0"),
    (["--lr", "inf"], "--lr must be a finite number above 0"),
    (["--threshold", "1.5"], "a probability in [0, 1]"),
    (["--threshold", "auto", "--val-clips", "0"], "give --val-clips 1 or more"),
])
def test_train_cli_bad_generator_options_are_usage_errors(tmp_path, capsys, argv, needle):
    from motionseg_trt.cli.main import main

    code = main(["train", "--out", str(tmp_path / "run"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and needle in err[0]
    assert not (tmp_path / "run").exists()
