"""The track-level benchmark: F-beta of a moving set, the best any threshold could give a window, and
a run on one generated validation clip."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import track_metrics  # noqa: E402


def test_fbeta_hand_cases():
    label = np.array([1, 1, 0, 0], bool)
    assert track_metrics.fbeta(label, label) == 1.0
    assert track_metrics.fbeta(~label, label) == 0.0
    assert track_metrics.fbeta(np.zeros(4, bool), label) == 0.0
    # precision 1/2, recall 1/2 -> every F-beta is 1/2; precision 1, recall 1/2 -> F0.5 = 5/6
    assert track_metrics.fbeta(np.array([1, 0, 1, 0], bool), label) == pytest.approx(0.5)
    assert track_metrics.fbeta(np.array([1, 0, 0, 0], bool), label) == pytest.approx(1.25 * 0.5 / 0.75)


def test_best_threshold_fbeta_is_the_best_cut():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(2, 40))
        prob = np.round(rng.random(n), 1)  # ties on purpose: tied scores enter the set together
        label = rng.random(n) < 0.3
        brute = max([track_metrics.fbeta(prob > t, label) for t in np.unique(prob)] +
                    [track_metrics.fbeta(prob >= prob.min(), label)])
        assert track_metrics.best_threshold_fbeta(prob, label) == pytest.approx(brute)
    assert track_metrics.best_threshold_fbeta(np.array([0.9, 0.2]), np.array([False, False])) == 0.0
    # a perfect ranking has a perfect cut, whatever the threshold the labeller chose
    assert track_metrics.best_threshold_fbeta(np.array([0.3, 0.2, 0.1]), np.array([1, 1, 0], bool)) == 1.0


def test_best_cut_threshold_gives_its_f():
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(2, 40))
        prob = np.round(rng.random(n), 1)
        label = rng.random(n) < 0.3
        label[0] = True
        f, t = track_metrics.best_cut(prob, label)
        assert track_metrics.fbeta(prob >= t, label) == pytest.approx(f)
        assert t in prob
    # nothing moving in truth: the best threshold selects nothing
    f, t = track_metrics.best_cut(np.array([0.9, 0.2]), np.array([False, False]))
    assert f == 0.0 and not (np.array([0.9, 0.2]) >= t).any()
    assert track_metrics.best_cut(np.array([0.3, 0.2, 0.1]), np.array([1, 1, 0], bool)) == (1.0, 0.2)


def test_window_means_count_only_windows_with_motion():
    probs = [np.array([0.9, 0.1]), np.array([0.8, 0.7])]
    labels = [np.array([True, False]), np.array([False, False])]
    moving = [np.array([False, True]), np.array([True, True])]
    out = track_metrics.window_means(probs, moving, labels)
    assert out == {"window_f05": 0.0, "window_f05_best": 1.0, "windows_with_motion": 1}
    assert np.isnan(track_metrics.window_means(probs[1:], moving[1:], labels[1:])["window_f05"])


@pytest.mark.slow
def test_main_on_one_generated_clip(tmp_path):
    out = tmp_path / "metrics.json"
    assert track_metrics.main(["--clips", "1", "--cache-dir", str(tmp_path / "cache"), "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert set(results) == {"learned", "geometric"}
    for m in results.values():
        assert m["windows_with_motion"] >= 1
        assert 0.0 <= m["window_f05"] <= m["window_f05_best"] <= 1.0
        assert 0.5 < m["auc"] <= 1.0
