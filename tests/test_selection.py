"""The official moving-track selection rule (spec §6): fixture cases plus edge cases."""
from __future__ import annotations

import numpy as np
import pytest

from motionseg_trt.motion.classifier.select import FALLBACK, dynamic_tracks, select_moving


def _cases():
    from _classifier_fixture import FIXTURE

    path = FIXTURE / "selection_cases.safetensors"
    if not path.exists():
        return []
    from safetensors.numpy import load_file

    data = load_file(str(path))
    return [(name, data) for name in sorted({k.rsplit(".", 1)[0] for k in data})]


CASES = _cases()


@pytest.mark.skipif(not CASES, reason="classifier fixture (shared/fixtures/segany_classifier) not found")
@pytest.mark.parametrize("name", [c[0] for c in CASES] or ["none"])
def test_fixture_selection_cases(name):
    data = dict(CASES)[name]
    sel = select_moving(data[f"{name}.prob"], int(data[f"{name}.T"][0]))
    np.testing.assert_array_equal(sel.moving, data[f"{name}.moving"])
    assert np.float32(sel.threshold_used) == data[f"{name}.threshold_used"][0]


def test_first_threshold_with_ten_tracks_wins():
    p = np.full(50, 0.1, np.float32)
    p[:10] = 0.94  # 10 above 0.93 but none above 0.95
    sel = select_moving(p, 24)
    assert sel.threshold_used == pytest.approx(0.93) and sel.moving.sum() == 10


def test_fallback_is_exactly_top3_even_with_some_above_threshold():
    p = np.linspace(0, 0.5, 40).astype(np.float32)
    p[[3, 7, 11, 19, 23]] = [0.99, 0.98, 0.97, 0.96, 0.71]
    sel = select_moving(p, 24)
    assert sel.threshold_used == FALLBACK
    assert set(np.flatnonzero(sel.moving)) == {3, 7, 11}


def test_strict_greater_in_float32():
    p = np.full(12, np.float32(0.9), np.float32)
    sel = select_moving(p, 24)  # exactly 0.9 does not count: falls to 0.85
    assert sel.threshold_used == pytest.approx(0.85) and sel.moving.all()


def test_long_clip_thresholds():
    p = np.full(30, 0.96, np.float32)
    assert select_moving(p, 300).threshold_used == pytest.approx(0.95)  # 300 frames: normal list
    assert select_moving(p, 301).threshold_used == pytest.approx(0.95)  # >300: long list, 0.96 > 0.95 only
    p[:10] = 0.985
    assert select_moving(p, 301).threshold_used == pytest.approx(0.98)


def test_fewer_than_three_tracks():
    assert select_moving(np.array([0.2, 0.1], np.float32), 10).moving.all()
    assert select_moving(np.zeros(0, np.float32), 10).moving.shape == (0,)


def test_dynamic_tracks_visibility_needs_confidence():
    xy = np.arange(3 * 2 * 2, dtype=np.float32).reshape(3, 2, 2)
    visible = np.array([[True, True], [True, False], [True, True]])
    conf = np.array([[0.95, 0.9], [0.99, 0.99], [0.5, 0.5]], np.float32)
    traj, vis, c = dynamic_tracks(xy, visible, conf, np.array([True, True, False]))
    assert traj.shape == (2, 2, 2)
    np.testing.assert_array_equal(traj[:, 0], xy[0].T)
    np.testing.assert_array_equal(vis, [[True, False], [True, False]])
    np.testing.assert_array_equal(c, conf[:2])
