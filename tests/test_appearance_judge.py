"""Motion stays the judge in the default embedded set: a camera panning over a still photograph of a cat
gives no object, however salient the cat; a mover cut from its own background, which saliency cannot
see, is still found; the example clip's static look-alike stays unsegmented."""
import numpy as np
import pytest
from _video import write_video
from PIL import Image

from motionseg_trt.cli.main import main

pytest.importorskip("skimage.data", reason="scikit-image (dev extra) holds the photographs")
pytestmark = pytest.mark.slow  # the appearance networks and the classifier are exported on the first run


def _run(tmp_path, frames, name):
    clip = str(tmp_path / f"{name}.mp4")
    write_video(clip, frames)
    out = tmp_path / name
    code = main(["run", clip, "--out", str(out), "--no-progress", "--no-overlay"])
    assert code == 0
    return np.stack([np.asarray(Image.open(p)) for p in sorted((out / "masks").glob("*.png"))])


def test_a_still_photograph_under_a_panning_camera_is_not_an_object(tmp_path):
    from _photo_scenes import still_photograph_pan

    masks = _run(tmp_path, still_photograph_pan(), "still")
    assert (masks > 0).mean() < 0.002  # not one object: at most a few stray pixels


def test_a_mover_that_saliency_misses_is_found_from_motion(tmp_path):
    from _photo_scenes import camouflaged_mover

    frames, truth = camouflaged_mover()
    masks = _run(tmp_path, frames, "camouflaged")
    # found in every frame past the first few (little motion history there), and nothing else: with no
    # edge to stop at, the mask is the mover's core (the fill stays inside its tracks), never the gravel
    for m, g in zip(masks[4:] > 0, truth[4:]):
        assert (m & g).sum() > 0.3 * g.sum() and (m & g).sum() > 0.9 * m.sum()
    assert len(set(np.unique(masks).tolist()) - {0}) == 1
