"""SAM2 model building, checkpoint handling and the torchvision op-schema shim."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from motionseg_trt.config import RunConfig
from motionseg_trt.errors import ModelFileError

pytest.importorskip("sam2")
torch = pytest.importorskip("torch")


def test_config_names():
    from motionseg_trt.masks.sam2.loader import config_path

    assert config_path("sam2.1_hiera_t") == "configs/sam2.1/sam2.1_hiera_t.yaml"
    assert config_path("sam2_hiera_l") == "configs/sam2/sam2_hiera_l.yaml"
    assert config_path("configs/sam2.1/sam2.1_hiera_s.yaml") == "configs/sam2.1/sam2.1_hiera_s.yaml"
    with pytest.raises(ModelFileError):
        config_path("sam3_huge")


def test_checkpoint_roundtrip_and_errors(tmp_path):
    from motionseg_trt.masks.sam2.loader import build_sam2_video_model, load_checkpoint, write_random_checkpoint

    path = write_random_checkpoint(str(tmp_path / "r.pt"), "sam2.1_hiera_t", seed=3)
    a = build_sam2_video_model("sam2.1_hiera_t", path, image_size=128, seed=0)
    b = build_sam2_video_model("sam2.1_hiera_t", None, image_size=128, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert type(a).__name__ == "SAM2VideoPredictor" and a.image_size == 128
    with pytest.raises(ModelFileError, match="not found"):
        load_checkpoint(a, str(tmp_path / "missing.pt"))
    bad = tmp_path / "bad.pt"
    torch.save({"model": {"image_encoder.nope": torch.zeros(1)}}, bad)
    with pytest.raises(ModelFileError, match="does not match"):
        load_checkpoint(a, str(bad))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelFileError):
        load_checkpoint(a, str(tmp_path / "junk.pt"))


def test_resolve_checkpoint(tmp_path):
    from motionseg_trt.masks.sam2.loader import resolve_checkpoint

    ckpt = tmp_path / "x.pt"
    ckpt.write_bytes(b"")
    assert resolve_checkpoint(RunConfig(sam2_checkpoint=str(ckpt))) == str(ckpt)
    assert resolve_checkpoint(RunConfig(extra={"random_weights": True})) is None
    # no checkpoint and nothing downloaded: a model-file error naming the download, never random weights
    with pytest.raises(ModelFileError, match="download"):
        resolve_checkpoint(RunConfig(weights_dir=str(tmp_path / "empty")))
    with pytest.raises(ModelFileError):
        resolve_checkpoint(RunConfig(sam2_checkpoint=str(tmp_path / "nope.pt")))


def test_feature_cache_is_bounded():
    from motionseg_trt.masks.sam2.loader import build_sam2_video_model
    from motionseg_trt.masks.sam2.session import Sam2VideoSession

    torch.set_num_threads(1)
    model = build_sam2_video_model("sam2.1_hiera_t", None, image_size=128, seed=0)
    frames = np.random.default_rng(0).integers(0, 255, (5, 32, 40, 3), dtype=np.uint8)
    s = Sam2VideoSession(model, frames, feature_cache_frames=2)
    s.add_points(0, 1, np.array([[10.0, 10.0]], np.float32))
    list(s.propagate())
    cache = s.state["cached_features"]
    assert sorted(cache) == [3, 4]  # the two most recent frames only
    pos = [v[1]["vision_pos_enc"] for v in cache.values()]
    assert pos[0] is pos[1]  # positional encodings are shared, not stored per frame


FAKE_BROKEN_TORCHVISION = textwrap.dedent('''
    # Mimics PyPI torchvision beside a torch it was not built for: its compiled ops are missing,
    # and _meta_registrations decorates them unconditionally at import time.
    import torch

    @torch.library.register_fake("torchvision::nms")
    def meta_nms(dets, scores, iou_threshold):
        return dets.new_empty(0, dtype=torch.long)

    @torch.library.register_fake("torchvision::qnms")
    def meta_qnms(dets, scores, iou_threshold):
        return dets.new_empty(0, dtype=torch.long)

    __version__ = "0.0-fake"
''')


@pytest.mark.slow
def test_torchvision_shim_makes_a_broken_torchvision_importable(tmp_path):
    pkg = tmp_path / "torchvision"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(FAKE_BROKEN_TORCHVISION)
    code = textwrap.dedent('''
        import torch
        try:
            import torchvision
            raise SystemExit("the fake torchvision imported without the shim")
        except RuntimeError as exc:
            assert "torchvision::nms" in str(exc), exc
        from motionseg_trt.masks.sam2._torchvision_shim import ensure_torchvision_importable
        assert ensure_torchvision_importable() == "shimmed"
        import torchvision
        assert torchvision.__version__ == "0.0-fake"
        assert hasattr(torch.ops.torchvision, "nms") and hasattr(torch.ops.torchvision, "qnms")
        from motionseg_trt.masks.sam2.loader import import_sam2
        import_sam2()
        print("ok")
    ''')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stderr[-2000:]


def test_torchvision_shim_leaves_a_missing_or_healthy_torchvision_alone():
    code = textwrap.dedent('''
        import importlib.util
        from motionseg_trt.masks.sam2._torchvision_shim import ensure_torchvision_importable
        state = ensure_torchvision_importable()
        expected = "absent" if importlib.util.find_spec("torchvision") is None else ("ok", "shimmed")
        assert state in expected, state
        print(state)
    ''')
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
