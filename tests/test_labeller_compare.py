"""The labeller benchmark on a tiny generated DAVIS-like folder (never the real data): its variants,
the oracle and the error-splitting corrections of another labeller."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from _scenes import Square, make_scene
from _video import write_video

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import labeller_compare  # noqa: E402


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("davis_like")
    # a moving square and a static look-alike: the geometric labeller is right on most tracks, so
    # that both kinds of correction have something to correct only where it errs
    scene = make_scene(num_frames=12, height=96, width=128, pan=(1.5, 0.5),
                       squares=(Square(36, 30, 30, (1.2, 1.0), seed=5), Square(90, 8, 22, seed=6)))
    seq = root / "pan-square"
    (seq / "masks").mkdir(parents=True)
    write_video(str(seq / "clip.mp4"), scene.frames, crf=10)
    for t, labels in enumerate(scene.labels):
        mask = labels == 1  # the moving square only, as DAVIS marks the moving object
        cv2.imwrite(str(seq / "masks" / f"{t:05d}.png"), mask.astype(np.uint8) * 255)
    return root


def _one_window(dataset):
    seq = dataset / "pan-square"
    windows = list(labeller_compare._windows(seq, 12, 8, 4))
    args = SimpleNamespace(tracker_set=[], track_cache="", max_frames=0, window=8, stride=4)
    return seq, windows[0], labeller_compare._tracks(seq, windows[:1], args)[0]


def test_corrections_drop_false_positives_or_add_misses(dataset):
    from motionseg_trt.contracts import MotionLabels

    seq, window, tracks = _one_window(dataset)
    oracle = labeller_compare.OracleLabeller(sorted((seq / "masks").glob("*.png")))
    truth = oracle.label(window, tracks).moving
    assert 0 < truth.sum() < tracks.num_tracks

    class EveryOther:  # a labeller with errors of both kinds
        def label(self, window, tracks, features=None):
            moving = np.arange(tracks.num_tracks) % 2 == 0
            return MotionLabels(prob=moving.astype(np.float32), moving=moving, threshold=0.5)

    own = EveryOther().label(window, tracks).moving
    nofp = labeller_compare.CorrectedLabeller(EveryOther(), oracle, drop_false_positives=True)
    nofn = labeller_compare.CorrectedLabeller(EveryOther(), oracle, drop_false_positives=False)
    np.testing.assert_array_equal(nofp.label(window, tracks).moving, own & truth)
    np.testing.assert_array_equal(nofn.label(window, tracks).moving, own | truth)
    assert (own & ~truth).any() and (~own & truth).any()  # both corrections change something


def test_benchmark_runs_every_kind_of_variant(dataset, tmp_path, capsys):
    out = tmp_path / "result.json"
    variants = ["geometric", "oracle", "nofp:geometric", "nofn:geometric:geo_threshold=0.5"]
    argv = [str(dataset), "--window", "8", "--stride", "4", "--json", str(out)]
    for v in variants:
        argv += ["--variant", v]
    assert labeller_compare.main(argv) == 0
    result = json.loads(out.read_text())["variants"]
    assert list(result) == variants
    jf = {v: result[v]["mean"]["JF"] for v in variants}
    # the oracle finds the moving square; geometric does too on this easy scene
    assert jf["oracle"] > 0.6 and jf["geometric"] > 0.5
    assert all(0.0 <= x <= 1.0 for x in jf.values())
    printed = capsys.readouterr().out
    assert "nofp:geometric" in printed and "J&F" in printed
