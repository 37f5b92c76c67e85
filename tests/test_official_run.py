"""END-TO-END PLUMBING TEST of ``--models official`` with random weights (no quality is tested).

The fixture writes weight files of the official formats with random values (DINOv2 in the torch-hub
layout, Depth-Anything-V2 in the transformers layout, both shrunk to fewer ViT blocks), so the real
loading code runs for them; the classifier, BootsTAPIR and SAM2 use their random-init paths
(``random_weights``). The whole pipeline then
runs on a tiny generated clip: BootsTAPIR tracks -> depth + DINO -> official classifier -> SAM2 ->
writers. It proves that the stages fit together (shapes, contracts, ids, outputs), nothing more.
Kept small (one short clip, PyTorch backend, SAM2 at 256 px) to stay well under 2 minutes on a core.
"""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
for _mod in ("motionseg_trt.tracks.bootstapir.predictor", "motionseg_trt.motion.classifier.labeller",
             "motionseg_trt.masks.sam2.densifier"):
    pytest.importorskip(_mod, reason=f"{_mod} is not in this checkout yet")
pytest.importorskip("sam2", reason="the sam2 package is needed for the SAM2 densifier")

from motionseg_trt.config import RunConfig  # noqa: E402
from motionseg_trt.pipeline import run_pipeline  # noqa: E402

pytestmark = pytest.mark.slow  # runs the whole official stack

N_FRAMES, W, H = 12, 96, 64


def _hub_dino_state_dict(layers: int) -> dict:
    """A ViT-B/14 cut to ``layers`` blocks, in the torch-hub checkpoint layout."""
    from test_dino import hub_layout

    from motionseg_trt.features.dino import build_dino_backbone

    return hub_layout(build_dino_backbone("vitb14", num_layers=layers, seed=3).state_dict(), layers)


@pytest.fixture(scope="module")
def random_weight_files(tmp_path_factory):
    from safetensors.torch import save_file

    from motionseg_trt.features.depth import build_depth_model

    root = tmp_path_factory.mktemp("weights")
    torch.save(_hub_dino_state_dict(layers=2), root / "dinov2_vitb14_pretrain.pth")
    depth = build_depth_model("small", num_layers=4, seed=4)
    save_file({k: v.contiguous() for k, v in depth.state_dict().items()}, str(root / "depth.safetensors"))
    return root


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    from _video import make_pan_clip

    path = str(tmp_path_factory.mktemp("clip") / "pan.mp4")
    make_pan_clip(path, n_frames=N_FRAMES, size=(W, H))
    return path


def official_config(clip, out, weights, **kw) -> RunConfig:
    extra = {
        "random_weights": True,  # BootsTAPIR and SAM2 (explicit paths below win for the others)
        "dino_variant": "vitb14", "dino_layers": 2, "dino_layer": 1,
        "dino_weights": str(weights / "dinov2_vitb14_pretrain.pth"),
        "depth_layers": 4, "depth_side": 70, "depth_weights": str(weights / "depth.safetensors"),
        "sam2_image_size": 256,
        # BootsTAPIR's PIPs mixer costs ~50 MFLOP per track-frame-iteration: few tracks on a CPU
        "tracker_max_tracks": 48, "tracker_query_chunk": 16, "tracker_query_stride": 4,
    }
    extra.update(kw.pop("extra", {}))
    return RunConfig(input=clip, out=str(out), models="official", tracker="bootstapir", motion_model="official",
                     densifier="sam2", backend="torch",
                     window=8, stride=4, progress=False, write_overlay=False, threads=1, extra=extra, **kw)


def test_official_stack_runs_end_to_end(tiny_clip, random_weight_files, tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "out"
    summary = run_pipeline(official_config(tiny_clip, out, random_weight_files))
    assert summary["status"] == "complete" and summary["frames"] == N_FRAMES
    masks = sorted((out / "masks").glob("*.png"))
    assert len(masks) == N_FRAMES
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["models"] == "official"
    assert run["seconds"]["features"] > 0 and run["seconds"]["tracks"] > 0


def test_official_features_reach_the_classifier(tiny_clip, random_weight_files):
    """The stage outputs have the shapes the contracts promise, window after window."""
    from motionseg_trt.io.decode import open_frames
    from motionseg_trt.io.windows import VideoSource
    from motionseg_trt.stages import build_stages

    config = official_config(tiny_clip, "unused", random_weight_files)
    tracker, features, labeller, _ = build_stages(config)
    reader = open_frames(tiny_clip, config.max_side, 1)
    source = VideoSource(reader, config.window, config.stride, False)
    try:
        for window in source:
            tracks = tracker.track(window)
            feats = features.extract(window, tracks)
            T = window.length
            assert feats.depth.shape == (T, H, W) and feats.depth.dtype == np.float32
            assert np.all((feats.depth >= 0) & (feats.depth <= 1))
            q = np.unique(tracks.query_frame)
            assert np.array_equal(feats.dino_frames, q)
            assert feats.dino.shape[0] == len(q) and feats.dino.shape[-1] == 768
            labels = labeller.label(window, tracks, feats)
            assert labels.prob.shape == (tracks.num_tracks,)
            assert np.all(np.isfinite(labels.prob))
    finally:
        source.close()


@pytest.mark.skipif(not __import__("os").environ.get("MOTIONSEG_SLOW_TESTS"),
                    reason="slow (exports every official graph, ~2 CPU-minutes): set MOTIONSEG_SLOW_TESTS=1")
def test_torch_and_onnxruntime_backends_write_the_same_masks(tiny_clip, random_weight_files, tmp_path):
    """The whole official stack through ONNX Runtime (tracker, DINO, depth, classifier and SAM2 graphs
    exported on first use) writes the masks the PyTorch reference writes."""
    from PIL import Image

    torch.set_num_threads(1)
    masks = {}
    for backend in ("torch", "onnxruntime"):
        cfg = official_config(tiny_clip, tmp_path / backend, random_weight_files, engine_cache=str(tmp_path / "eng"))
        cfg.backend = backend
        assert run_pipeline(cfg)["frames"] == N_FRAMES
        masks[backend] = np.stack([np.array(Image.open(p)) for p in sorted((tmp_path / backend / "masks").glob("*.png"))])
    assert masks["torch"].any()  # something was segmented (random weights: not a meaningful object)
    assert np.array_equal(masks["torch"], masks["onnxruntime"])
