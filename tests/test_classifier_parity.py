"""The classifier against the golden fixture made with the official code (shared/fixtures/segany_classifier):
preprocessing from raw.*, every intermediate, prob/logits and selection, through torch and ONNX Runtime."""
from __future__ import annotations

import numpy as np
import pytest

from _classifier_fixture import fixture_engine_cache, fixture_model, load, require_fixture

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def fx():
    require_fixture()
    manifest = __import__("json").loads((require_fixture() / "manifest.json").read_text())
    return {"inputs": load("inputs.safetensors"), "outputs": load("outputs.safetensors"),
            "tol": manifest["tolerance_hint"]}


@pytest.fixture(scope="module")
def prepared(fx):
    from motionseg_training.parity.classifier import load_raw_inputs, prepare

    raw = load_raw_inputs(str(require_fixture()))
    assert all(not k.startswith(("model_in", "prep")) for k in raw)
    return prepare(raw, fixture_model().config)


def _model_in(fx):
    """The fixture's exact model inputs in our layout (channel-last, depth already sampled officially)."""
    from motionseg_trt.motion.classifier.preprocess import sample_depth

    mi = {k[len("model_in."):]: v for k, v in fx["inputs"].items() if k.startswith("model_in.")}
    traj = mi["traj"][0].transpose(1, 2, 0)
    depth_maps = mi["depth"][0, 0].transpose(2, 0, 1)
    return {"traj": traj, "mask": mi["mask"][0, 0], "depth": sample_depth(depth_maps, traj, "official"),
            "visib_value": mi["visib_value"][0, 0], "confi_value": mi["confi_value"][0, 0],
            "dino": mi["dino"][0, :, :, 0].T}


def test_preprocessing_reproduces_model_inputs(fx, prepared):
    from motionseg_trt.motion.classifier.preprocess import depth_from_u8

    inp = fx["inputs"]
    np.testing.assert_array_equal(prepared.visible, inp["prep.visible"])
    assert len(prepared.kept) == inp["raw.tracks_px"].shape[0]
    got = prepared.inputs
    np.testing.assert_array_equal(got.traj, inp["model_in.traj"][0].transpose(1, 2, 0))
    np.testing.assert_array_equal(got.mask, inp["model_in.mask"][0, 0])
    # the spec allows 1 ulp here (torch's sigmoid differs between strided and contiguous inputs)
    np.testing.assert_allclose(got.visib_value, inp["model_in.visib_value"][0, 0], rtol=0, atol=1.2e-7)
    np.testing.assert_allclose(got.confi_value, inp["model_in.confi_value"][0, 0], rtol=0, atol=1.2e-7)
    np.testing.assert_array_equal(got.dino, inp["model_in.dino"][0, :, :, 0].T)
    np.testing.assert_array_equal(depth_from_u8(inp["raw.depth_u8"]), inp["model_in.depth"][0, 0].transpose(2, 0, 1))
    np.testing.assert_array_equal(got.depth, fx["outputs"]["depth_sampled"][0, 0])


def test_depth_sampling_quirk_on_model_inputs(fx):
    np.testing.assert_array_equal(_model_in(fx)["depth"], fx["outputs"]["depth_sampled"][0, 0])


@pytest.mark.parametrize("impl", ["math", "sdpa"])
def test_every_intermediate_within_tolerance(fx, impl):
    from motionseg_trt.motion.classifier.modeling import attention_impl

    out, tol = fx["outputs"], fx["tol"]
    model = fixture_model()
    feed = {k: torch.from_numpy(np.ascontiguousarray(v))[None] for k, v in _model_in(fx).items()}
    capture = {}
    with torch.no_grad(), attention_impl(impl):
        logits = model(**feed, capture=capture)[0].numpy()
    # our layout -> the official one
    ours = {
        "aug_traj": capture["aug_traj"][0].permute(2, 0, 1),
        "encoder_proj": capture["encoder_proj"][0].permute(2, 0, 1),
        "track_feat": capture["track_feat"][0].T,
        "head_embed": capture["head_embed"][0],
    }
    for k in ("motion_enc_layer0", "motion_memory", "motion_dec_layer0", "motion_tokens"):
        ours[k] = capture[k][0]
    for k in ("head_enc_block0", "head_memory", "head_dec_block0", "head_tokens"):
        ours[k] = capture[k][0][:, None, :]
    strict = tol["aug_traj/depth_sampled/encoder_proj"]
    for name, value in ours.items():
        ref = out[name][0] if name in ("aug_traj", "encoder_proj", "track_feat", "head_embed") else out[name]
        atol = strict if name in ("aug_traj", "encoder_proj") else tol["intermediates"]
        np.testing.assert_allclose(value.numpy(), ref, rtol=0, atol=atol, err_msg=name)
    head_input = np.concatenate([out["track_feat"][0], _model_in(fx)["dino"].T])
    np.testing.assert_allclose(head_input, out["head_input"][0, :, :, 0], rtol=0, atol=tol["intermediates"])
    np.testing.assert_allclose(logits, out["logits"][0, 0], rtol=0, atol=tol["logits"])
    np.testing.assert_allclose(1 / (1 + np.exp(-logits.astype(np.float64))), out["prob"][0, 0], rtol=0, atol=tol["prob"])


def test_parity_entry_point_torch(fx, tmp_path):
    from safetensors.numpy import load_file

    from motionseg_training.parity.classifier import main

    dest = tmp_path / "out.safetensors"
    assert main([str(require_fixture()), str(dest), "--backend", "torch"]) == 0
    got, out, tol = load_file(str(dest)), fx["outputs"], fx["tol"]
    assert got["prob"].shape == out["prob"].shape and got["logits"].shape == out["logits"].shape
    np.testing.assert_allclose(got["prob"], out["prob"], rtol=0, atol=tol["prob"])
    np.testing.assert_allclose(got["logits"], out["logits"], rtol=0, atol=tol["logits"])
    np.testing.assert_array_equal(got["select.moving"], out["select.moving"])
    np.testing.assert_array_equal(got["select.threshold_used"], out["select.threshold_used"])


@pytest.mark.slow
def test_parity_onnxruntime(fx):
    pytest.importorskip("onnxruntime")
    from motionseg_training.parity.classifier import run_parity

    got = run_parity(str(require_fixture()), backend="onnxruntime", engine_cache=fixture_engine_cache())
    out, tol = fx["outputs"], fx["tol"]
    np.testing.assert_allclose(got["prob"], out["prob"], rtol=0, atol=tol["prob"])
    np.testing.assert_allclose(got["logits"], out["logits"], rtol=0, atol=tol["logits"])
    np.testing.assert_array_equal(got["select.moving"], out["select.moving"])


def test_selection_and_dynamic_tracks(fx, prepared):
    from motionseg_trt.motion.classifier.select import dynamic_tracks, select_moving

    out = fx["outputs"]
    sel = select_moving(out["prob"], prepared.visible.shape[1])
    np.testing.assert_array_equal(sel.moving, out["select.moving"])
    assert np.float32(sel.threshold_used) == out["select.threshold_used"][0]
    traj, vis, conf = dynamic_tracks(prepared.tracks_px, prepared.visible, prepared.confi_value, sel.moving)
    np.testing.assert_array_equal(traj, out["select.dynamic_traj_px"])
    np.testing.assert_array_equal(vis, out["select.dynamic_visibility"])
    np.testing.assert_allclose(conf, out["select.dynamic_confidences"], rtol=0, atol=1.2e-7)


def test_mistakes_are_detected(fx):
    """The parity check has teeth: 'correct' depth sampling changes the output beyond tolerance."""
    from motionseg_trt.motion.classifier.preprocess import sample_depth

    feed = _model_in(fx)
    mi = fx["inputs"]
    feed["depth"] = sample_depth(mi["model_in.depth"][0, 0].transpose(2, 0, 1), feed["traj"], "correct")
    with torch.no_grad():
        logits = fixture_model()(**{k: torch.from_numpy(np.ascontiguousarray(v))[None] for k, v in feed.items()})
    assert np.abs(logits[0].numpy() - fx["outputs"]["logits"][0, 0]).max() > 1e-3


def _write_fixture(folder, n=40, t=7, h=50, w=70, queries=(0, 5), map_hw=(6, 9), seed=5):
    """A fixture folder of another size, made the same way (random weights and raw tracker outputs),
    with a never-visible track and a frame where nobody is visible."""
    from safetensors.numpy import save_file

    from motionseg_trt.motion.classifier.modeling import TrajectoryClassifier

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    save_file({k: v.numpy() for k, v in TrajectoryClassifier().state_dict().items()},
              str(folder / "state_dict.safetensors"))
    occ = rng.normal(-2, 2.5, (n, t)).astype(np.float32)
    occ[3] = 9.0  # never visible
    occ[:, 4] = 9.0  # frame 4: nobody visible
    raw = {
        "image_hw": np.array([h, w], np.int64), "query_frames": np.array(queries, np.int64),
        "track_query_frame": rng.choice(np.array(queries), n).astype(np.int64),
        "tracks_px": (rng.uniform(-5, 1.05, (n, t, 2)) * [w, h]).astype(np.float32),
        "occlusion_logits": occ, "expected_dist_logits": rng.normal(-3, 1, (n, t)).astype(np.float32),
        "depth_u8": rng.integers(0, 256, (t, h, w)).astype(np.uint8),
        "dino_maps_f16": rng.standard_normal((len(queries), *map_hw, 768)).astype(np.float16),
    }
    save_file({f"raw.{k}": v for k, v in raw.items()} | {"model_in.decoy": np.zeros(1, np.float32)},
              str(folder / "inputs.safetensors"))
    return raw


def test_parity_tool_on_another_size(tmp_path):
    """Nothing in the tool depends on the shipped fixture's sizes; the dropped track and the empty frame
    follow the official rules, and the result equals the model run on our own preprocessing."""
    from safetensors.numpy import load_file

    from motionseg_trt.motion.classifier.checkpoint import load_classifier
    from motionseg_trt.motion.classifier.modeling import attention_impl
    from motionseg_training.parity.classifier import main, prepare

    raw = _write_fixture(tmp_path)
    assert main([str(tmp_path), str(tmp_path / "out.safetensors")]) == 0
    got = load_file(str(tmp_path / "out.safetensors"))
    assert got["prob"].shape == (1, 1, 39)  # the never-visible track is dropped, as officially
    model = load_classifier(str(tmp_path / "state_dict.safetensors"))
    prepared = prepare(raw, model.config)
    assert prepared.visible[:, 4].sum() == 1  # the empty frame got exactly one visible point
    feed = {k: torch.from_numpy(v) for k, v in prepared.inputs.feed(model.input_names).items()}
    with torch.no_grad(), attention_impl("math"):
        logits = model(**feed)[0].numpy()
    np.testing.assert_allclose(got["logits"][0, 0], logits, rtol=0, atol=1e-6)
    assert got["select.moving"].shape == (39,) and got["select.moving"].sum() >= 3
