"""The labeller benchmark on a tiny generated DAVIS-like folder (never the real data): its variants,
the oracle, the error-splitting corrections of another labeller and its best per-window threshold."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from _davis_like import FRAMES, SEQUENCE, write_davis_like

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import labeller_compare  # noqa: E402


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    # a moving square and a static look-alike: the geometric labeller is right on most tracks, so
    # that both kinds of correction have something to correct only where it errs
    return write_davis_like(tmp_path_factory.mktemp("davis_like"))


def _one_window(dataset):
    seq = dataset / SEQUENCE
    windows = list(labeller_compare._windows(seq, FRAMES, 8, 4))
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


def test_best_threshold_is_no_worse_than_any_threshold(dataset):
    from benchmarks.track_metrics import fbeta
    from motionseg_trt.contracts import MotionLabels

    seq, window, tracks = _one_window(dataset)
    oracle = labeller_compare.OracleLabeller(sorted((seq / "masks").glob("*.png")))
    truth = oracle.label(window, tracks).moving
    noisy = np.clip(truth + np.random.default_rng(0).normal(0, 0.6, truth.shape), 0, 1).astype(np.float32)

    class Noisy:  # a ranking with errors, and a poor threshold of its own
        def label(self, window, tracks, features=None):
            return MotionLabels(prob=noisy, moving=noisy >= 0.05, threshold=0.05)

    best = labeller_compare.BestThresholdLabeller(Noisy(), oracle).label(window, tracks)
    np.testing.assert_array_equal(best.prob, noisy)  # the scores are kept, only the cut changes
    np.testing.assert_array_equal(best.moving, noisy >= best.threshold)
    f = fbeta(best.moving, truth)
    assert f > fbeta(noisy >= 0.05, truth)
    assert all(f >= fbeta(noisy >= t, truth) - 1e-9 for t in np.linspace(0, 1, 21))


def test_benchmark_runs_every_kind_of_variant(dataset, tmp_path, capsys):
    out = tmp_path / "result.json"
    variants = ["geometric", "oracle", "nofp:geometric", "nofn:geometric:geo_threshold=0.5", "best:geometric"]
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
    assert jf["best:geometric"] > 0.5
    printed = capsys.readouterr().out
    assert "nofp:geometric" in printed and "J&F" in printed
