"""The embedded densifier: masks cover the moving objects; object ids are separate and stable."""
from __future__ import annotations

import numpy as np
import pytest

from _scenes import Square, make_scene, windows
from motionseg_trt.config import RunConfig
from motionseg_trt.masks.edge_fill import EdgeFillDensifier, guided_filter, splat
from motionseg_trt.masks.grouping import ObjectIds, group_tracks
from motionseg_trt.motion.geometric import GeometricLabeller
from motionseg_trt.tracks.flow_tracker import FlowTracker

VERSIONS = ["v1", "v2"]


def _iou(a, b):
    union = np.logical_or(a, b).sum()
    return np.logical_and(a, b).sum() / union if union else 1.0


def _run(scene, window=8, stride=4, **extra):
    config = RunConfig(extra=extra)
    tracker, labeller, densifier = FlowTracker(config), GeometricLabeller(config), EdgeFillDensifier(config)
    out = []
    for w in windows(scene.frames, window, stride):
        tracks = tracker.track(w)
        masks = densifier.densify(w, tracks, labeller.label(w, tracks, None))
        assert masks.start == w.start + w.emit_from
        assert masks.labels.shape == (len(w.emit_range),) + scene.frames.shape[1:3]
        assert masks.labels.dtype == np.uint8
        out.append(masks)
    labels = np.concatenate([m.labels for m in out])
    assert len(labels) == len(scene.frames)  # every frame emitted exactly once
    return labels, out


@pytest.mark.parametrize("version", VERSIONS)
def test_the_moving_square_is_covered_and_the_static_one_is_not(version):
    scene = make_scene(num_frames=20, height=96, width=128, pan=(1.5, 0.5),
                       squares=(Square(36, 30, 30, (1.2, 1.0), seed=5), Square(88, 8, 24, seed=6)))
    labels, _ = _run(scene, densifier_version=version)
    ious = [_iou(labels[t] > 0, scene.labels[t] > 0) for t in range(2, len(labels))]
    assert np.mean(ious) > 0.7, np.mean(ious)
    static_hit = np.mean([(labels[t] > 0)[scene.static_mask[t]].mean() for t in range(len(labels))])
    assert static_hit < 0.1


@pytest.mark.parametrize("version", VERSIONS)
def test_two_separate_objects_get_two_ids_stable_across_windows(version):
    scene = make_scene(num_frames=24, height=96, width=160, pan=(1.0, 0.5),
                       squares=(Square(14, 20, 26, (1.0, 1.2), seed=5), Square(110, 44, 26, (-1.2, -0.8), seed=8)))
    labels, masks = _run(scene, densifier_version=version)
    seen = set()
    for t in range(2, len(labels)):
        ids = []
        for k in (1, 2):
            gt = scene.labels[t] == k
            values, counts = np.unique(labels[t][gt], return_counts=True)
            ids.append(int(values[np.argmax(counts)]))
        assert ids[0] > 0 and ids[1] > 0 and ids[0] != ids[1]
        seen.add(tuple(ids))
    assert len(seen) == 1  # the same two ids in every frame, across all windows
    assert all(set(m.object_ids) <= set(next(iter(seen))) for m in masks)


def test_nothing_moving_gives_empty_masks():
    scene = make_scene(num_frames=10, height=64, width=96, pan=(1.0, 0.0), squares=(Square(30, 20, 20, seed=6),))
    labels, masks = _run(scene)
    assert labels.max() == 0 and all(m.object_ids == [] for m in masks)


def test_grouping_links_neighbours_and_drops_tiny_groups():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 20, (30, 2))
    b = rng.uniform(0, 20, (30, 2)) + [100, 0]
    lone = np.array([[50.0, 80.0], [53.0, 80.0]])
    xy = np.concatenate([a, b, lone])[:, None, :].repeat(3, 1).astype(np.float32)
    visible = np.ones(xy.shape[:2], bool)
    comp = group_tracks(xy, visible, link_px=8.0, min_tracks=4)
    assert len(set(comp[:30])) == 1 and len(set(comp[30:60])) == 1 and comp[0] != comp[30]
    assert np.all(comp[60:] == -1)


def test_object_ids_follow_tracks_and_are_not_reused():
    ids = ObjectIds()
    first = ids.assign(np.array([1, 2, 3, 4, 5, 6]), np.array([0, 0, 0, 1, 1, 1]))
    assert set(first[:3]) == {first[0]} and first[0] != first[3]
    # next window: components come in another order, with some new tracks
    second = ids.assign(np.array([4, 5, 6, 7, 1, 2, 3, 8]), np.array([0, 0, 0, 0, 1, 1, 1, 1]))
    assert np.all(second[:4] == first[3]) and np.all(second[4:] == first[0])
    # the first object is gone; a new one gets a new id, not the freed one
    third = ids.assign(np.array([4, 5, 20, 21, 22]), np.array([0, 0, 1, 1, 1]))
    assert np.all(third[:2] == first[3]) and third[2] not in (first[0], first[3])


def test_guided_filter_keeps_edges_of_the_guide():
    guide = np.zeros((40, 40), np.float32)
    guide[:, 20:] = 1.0
    src = np.zeros((40, 40, 1), np.float32)
    src[:, 14:] = 1.0  # a soft label whose edge is 6 px off the image edge
    out = guided_filter(guide, src, radius=8, eps=1e-4)[..., 0]
    # the output jumps where the guide does (a box filter would ramp smoothly over 2 * radius px)
    assert out[:, 20].min() - out[:, 19].max() > 0.2
    assert out[:, 20:].min() > 0.8 and out[:, :4].max() < 0.1
    density = splat(np.array([[10.0, 10.0]]), np.array([1.0]), (20, 20), 1.0, 2.0)
    assert abs(density.max() - 1.0) < 0.05 and np.argmax(density) == 10 * 20 + 10


def test_unknown_version_is_refused():
    from motionseg_trt.errors import OptionError

    with pytest.raises(OptionError, match="choose one of v1, v2"):
        EdgeFillDensifier(RunConfig(extra={"densifier_version": "v9"}))
