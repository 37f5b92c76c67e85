"""``motionseg-trt run --densifier sam2`` end to end with a random-init SAM2.1-tiny checkpoint written by
the test, on two backends: PyTorch (SAM2's four parts as modules) and ONNX Runtime (the same parts
exported), each inside sam2's own video logic, which must write the same masks (up to pixels whose
logit is within float rounding of the threshold). (tests/test_sam2_export.py compares the exported
parts with the sam2 package's own modules.)

SAM2 runs at 128 px here (``MOTIONSEG_SAM2_IMAGE_SIZE``) to keep the test short on one CPU core.
Random weights: the masks are meaningless, only the plumbing and the backend agreement are tested.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("sam2")
pytest.importorskip("torch")

pytestmark = pytest.mark.slow  # runs SAM2 end to end on two backends


@pytest.fixture(scope="module")
def sam2_run_inputs(tmp_path_factory):
    from _video import make_pan_clip

    from motionseg_trt.masks.sam2.loader import write_random_checkpoint

    root = tmp_path_factory.mktemp("sam2run")
    ckpt = write_random_checkpoint(str(root / "sam2.1_hiera_tiny_random.pt"), "sam2.1_hiera_t", seed=0)
    clip = str(root / "clip.mp4")
    make_pan_clip(clip, n_frames=12, size=(96, 72))
    return root, ckpt, clip


_ORIGINAL = {}  # the unpatched method (a second _run in the same test must not wrap the first spy)


def _run(root, ckpt, clip, backend, monkeypatch):
    from motionseg_trt.cli.main import main
    from motionseg_trt.masks.sam2 import session as sam2_session

    clicks = []
    real = _ORIGINAL.setdefault("add_points", sam2_session.Sam2VideoSession.add_points)

    def counting(self, frame, obj_id, points):  # a spy: the real SAM2 call still happens
        clicks.append((frame, obj_id, len(points)))
        return real(self, frame, obj_id, points)

    monkeypatch.setattr(sam2_session.Sam2VideoSession, "add_points", counting)
    monkeypatch.setenv("MOTIONSEG_SAM2_IMAGE_SIZE", "128")
    monkeypatch.setenv("MOTIONSEG_CACHE", str(root / "cache"))
    out = root / f"out-{backend}"
    rc = main(["run", clip, "--out", str(out), "--densifier", "sam2", "--sam2-checkpoint", ckpt,
               "--motion-model", "geometric", "--backend", backend, "--window", "8", "--stride", "4", "--threads", "1",
               "--no-progress", "--no-overlay"])
    assert rc == 0
    masks = sorted((out / "masks").glob("*.png"))
    return out, clicks, np.stack([np.asarray(Image.open(p)) for p in masks])


def test_sam2_run_torch_and_onnxruntime_write_the_same_masks(sam2_run_inputs, monkeypatch):
    root, ckpt, clip = sam2_run_inputs
    out_t, clicks_t, masks_t = _run(root, ckpt, clip, "torch", monkeypatch)
    assert masks_t.shape == (12, 72, 96)  # one mask per frame at the input size
    assert clicks_t, "SAM2 was never prompted: the run did not exercise the densifier"
    assert json.loads((out_t / "run.json").read_text())  # the run's record is written
    assert not list((Path(root) / "cache").rglob("*.onnx"))  # PyTorch runs the modules: nothing exported
    out_o, clicks_o, masks_o = _run(root, ckpt, clip, "onnxruntime", monkeypatch)
    assert clicks_o == clicks_t  # same prompts, in the same order
    # same masks, up to pixels whose logit is within float rounding (~1e-6) of the threshold 0:
    # random-init SAM2 puts many logits near 0, so a handful may flip (0-2 of 82,944 seen here)
    assert set(np.unique(masks_o)) == set(np.unique(masks_t))
    assert (masks_o != masks_t).mean() <= 1e-3
    assert list((Path(root) / "cache").rglob("*_memory_attention.onnx"))  # the exported parts were used


def test_wrong_checkpoint_is_a_model_file_error(sam2_run_inputs, tmp_path, monkeypatch):
    import torch

    from motionseg_trt.cli.main import main

    root, _, clip = sam2_run_inputs
    bad = tmp_path / "bad.pt"
    torch.save({"model": {"not_a_sam2_key": torch.zeros(1)}}, bad)
    monkeypatch.setenv("MOTIONSEG_SAM2_IMAGE_SIZE", "128")
    rc = main(["run", clip, "--out", str(tmp_path / "o"), "--densifier", "sam2", "--sam2-checkpoint", str(bad),
               "--motion-model", "geometric", "--backend", "torch", "--no-progress", "--no-overlay"])
    assert rc == 5  # ModelFileError
