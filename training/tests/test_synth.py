"""The procedural generator's ground truth is self-consistent and reproducible."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from motionseg_training.synth import SceneConfig, generate_clip, sample_scene
from motionseg_training.synth.render import render

SMALL = dict(width=128, height=72, num_frames=12)


def _clean(seed: int):
    """A small clip without camera-side degradations (noise, JPEG, blur), for photometric checks."""
    return render(sample_scene(seed, SceneConfig(**SMALL, degrade=False)))


def _find(pred, start=0, limit=200):
    for seed in range(start, start + limit):
        scene = sample_scene(seed, SceneConfig(**SMALL, degrade=False))
        if pred(scene):
            return seed
    raise AssertionError("no seed in range satisfies the predicate")


def _object_points(clip, instance: int, frame: int = 0, erode: int = 2):
    """Pixels well inside an object's mask at ``frame`` that belong to a rigid surface."""
    m = (clip.instances[frame] == instance).astype(np.uint8)
    m = cv2.erode(m, np.ones((3, 3), np.uint8), iterations=erode)
    sid = clip.surface_ids[frame]
    rigid = np.zeros_like(m, bool)
    ok = sid >= 0
    rigid[ok] = clip.surface_rigid[sid[ok]]
    ys, xs = np.nonzero(m.astype(bool) & rigid)
    return np.stack([xs, ys], 1).astype(np.float32)


def test_same_seed_same_clip_and_different_seeds_differ():
    a = generate_clip(3, SceneConfig(**SMALL))
    b = generate_clip(3, SceneConfig(**SMALL))
    c = generate_clip(4, SceneConfig(**SMALL))
    assert np.array_equal(a.frames, b.frames)
    assert np.array_equal(a.instances, b.instances)
    assert np.array_equal(a.depth, b.depth)
    assert a.moving_ids == b.moving_ids
    assert not np.array_equal(a.frames, c.frames)


def test_shapes_depth_and_ids():
    clip = generate_clip(5, SceneConfig(**SMALL))
    T, H, W = SMALL["num_frames"], SMALL["height"], SMALL["width"]
    assert clip.frames.shape == (T, H, W, 3) and clip.frames.dtype == np.uint8
    assert clip.instances.shape == (T, H, W)
    assert np.all(clip.depth > 0)  # the backdrop covers every pixel
    ids = set(np.unique(clip.instances).tolist()) - {0}
    assert ids <= set(clip.moving_ids) | set(clip.static_ids)
    assert not set(clip.moving_ids) & set(clip.static_ids)
    assert np.array_equal(clip.moving_masks, np.isin(clip.instances, list(clip.moving_ids)))


def _find_clip(pred, limit=200):
    for seed in range(limit):
        scene = sample_scene(seed, SceneConfig(**SMALL, degrade=False))
        if len(scene.moving_ids) == 0:
            continue
        clip = render(scene)
        if pred(clip):
            return clip
    raise AssertionError("no seed in range satisfies the predicate")


def test_gt_tracks_stay_on_their_object_and_on_its_texture():
    clip = _find_clip(lambda c: any(len(_object_points(c, k)) >= 20 for k in c.moving_ids))
    checked = 0
    for k in clip.moving_ids:
        pts = _object_points(clip, k)
        if len(pts) < 20:
            continue
        xy, vis, _ = clip.gt_tracks(pts, 0)
        T = clip.num_frames
        for t in range(1, T):
            v = vis[:, t]
            if v.sum() < 10:
                continue
            inst = clip.instance_at(xy[v, t], np.full(v.sum(), t))
            assert np.mean(inst == k) > 0.99
            # photo-consistency: the tracked point shows the same colour (small lighting drift allowed)
            # and does so much better than points 3 px off the track
            x0 = np.rint(pts[v]).astype(int)
            x1 = np.clip(np.rint(xy[v, t]).astype(int), 0, [clip.frames.shape[2] - 1, clip.frames.shape[1] - 1])
            x2 = np.clip(x1 + 3, 0, [clip.frames.shape[2] - 1, clip.frames.shape[1] - 1])
            c0 = clip.frames[0][x0[:, 1], x0[:, 0]].astype(float)
            on = np.abs(clip.frames[t][x1[:, 1], x1[:, 0]] - c0).mean()
            off = np.abs(clip.frames[t][x2[:, 1], x2[:, 0]] - c0).mean()
            assert on < 0.6 * off + 1.0, (t, on, off)
            checked += 1
    assert checked > 0


def _camera_prediction(clip, pts, frame=0):
    """Where the camera alone would move pixels ``pts`` (seen at ``frame`` with GT depth)."""
    x = np.rint(pts[:, 0]).astype(int)
    y = np.rint(pts[:, 1]).astype(int)
    X = clip.camera.unproject(pts.astype(np.float64), clip.depth[frame][y, x].astype(np.float64), frame)
    return np.stack([clip.camera.project(X, t)[0] for t in range(clip.num_frames)], 1)


def test_static_object_moves_only_with_the_camera_and_moving_one_does_not():
    def ok(scene):
        cam_moves = np.abs(scene.camera.centre[-1] - scene.camera.centre[0]).max() > 0.05
        return len(scene.moving_ids) > 0 and len(scene.static_ids) > 0 and cam_moves
    def visible(c):
        return all(any(len(_object_points(c, k)) >= 10 for k in ids) for ids in (c.moving_ids, c.static_ids))

    clip = _find_clip(lambda c: ok(sample_scene(c.seed, SceneConfig(**SMALL, degrade=False))) and visible(c))
    static_err, moving_err = [], []
    for ids, errs in ((clip.static_ids, static_err), (clip.moving_ids, moving_err)):
        for k in ids:
            pts = _object_points(clip, k)
            if len(pts) < 10:
                continue
            gt, _, _ = clip.gt_tracks(pts, 0)
            pred = _camera_prediction(clip, pts)
            errs.append(np.nanmax(np.linalg.norm(gt - pred, axis=-1)))
    assert static_err and moving_err
    # depth-based reprojection reproduces the static object's tracks (float32 depth: sub-0.05 px)
    assert max(static_err) < 0.05
    assert max(moving_err) > 1.0


def test_labels_from_masks_at_query_frame():
    seed = _find(lambda s: len(s.moving_ids) > 0)
    clip = _clean(seed)
    m = clip.moving_masks[0]
    ys, xs = np.nonzero(m)
    yb, xb = np.nonzero(~m)
    pts = np.concatenate([np.stack([xs[:5], ys[:5]], 1), np.stack([xb[:5], yb[:5]], 1)]).astype(np.float32)
    xy = np.repeat(pts[:, None], clip.num_frames, 1)
    label = clip.label_tracks(xy, np.zeros(len(pts), int))
    assert label[:5].all() and not label[5:].any()


@pytest.mark.parametrize("seed", [11, 12])
def test_parallax_background_layers_move_differently(seed):
    """Camera translation moves near and far background surfaces by different amounts (real depth)."""
    scene = sample_scene(seed, SceneConfig(**SMALL, degrade=False))
    clip = render(scene)
    d = clip.depth[0]
    bg = clip.instances[0] == 0
    assert np.ptp(d[bg]) > 0  # background holds several depths


def test_water_and_flat_backgrounds_leave_the_rest_of_the_scene_alone():
    """water_p and smooth_p draw from streams of their own: the objects, the camera and everything
    else of a seed stay as they were, so that 0 renders the clips it always did."""
    seed = _find(lambda s: any(x.name == "ground" for x in s.surfaces) and len(s.moving_ids) > 0)
    base = sample_scene(seed, SceneConfig(**SMALL, degrade=False))
    alt = sample_scene(seed, SceneConfig(**SMALL, degrade=False, water_p=1.0, smooth_p=1.0))
    assert [s.name for s in base.surfaces if s.name != "ground"] == [s.name for s in alt.surfaces if s.name != "water"]
    assert base.moving_ids == alt.moving_ids and np.array_equal(base.camera.R, alt.camera.R)
    for a, b in zip(base.surfaces, alt.surfaces):
        if a.instance:  # objects: same texture, same motion
            assert np.array_equal(a.tex, b.tex) and np.array_equal(a.origin, b.origin)
    water = next(s for s in alt.surfaces if s.name == "water")
    assert not water.rigid and water.instance == 0 and not water.moving  # it ripples, yet is background


def test_flat_backgrounds_have_less_texture():
    seed = 4
    def gradient_energy(s):
        tex = s.tex[..., :3]
        return float(np.mean(np.abs(np.diff(tex, axis=0))) + np.mean(np.abs(np.diff(tex, axis=1))))
    base = sample_scene(seed, SceneConfig(**SMALL, degrade=False))
    flat = sample_scene(seed, SceneConfig(**SMALL, degrade=False, smooth_p=1.0))
    for a, b in zip(base.surfaces, flat.surfaces):
        if a.instance == 0:
            assert gradient_energy(b) < 0.5 * gradient_energy(a)


def test_water_ripples_move_the_ground_texture():
    seed = _find(lambda s: any(x.name == "ground" for x in s.surfaces))
    cfg = SceneConfig(**SMALL, degrade=False, water_p=1.0)
    clip = render(sample_scene(seed, cfg))
    still = render(sample_scene(seed, SceneConfig(**SMALL, degrade=False)))
    ground = [i for i, s in enumerate(sample_scene(seed, cfg).surfaces) if s.name == "water"][0]
    on_ground = (clip.surface_ids[3] == ground) & (still.surface_ids[3] == ground)
    assert on_ground.sum() > 50
    diff = np.abs(clip.frames[3].astype(int) - still.frames[3].astype(int)).max(-1)[on_ground]
    assert np.mean(diff > 2) > 0.2  # the rippled texture is displaced


def test_shadows_darken_only_the_ground_and_leave_the_ground_truth_alone():
    """shadow_p draws from a stream of its own; a shadow changes how the ground looks, next to the
    object, and nothing else: masks, depth, surfaces and the object's own pixels stay as they were."""
    seed = _find(lambda s: any(x.name == "ground" for x in s.surfaces) and len(s.moving_ids) > 0)
    cfg = SceneConfig(**SMALL, degrade=False, shadow_p=1.0)
    scene = sample_scene(seed, cfg)
    assert scene.cast is not None and not scene.cast.reflection
    base = sample_scene(seed, SceneConfig(**SMALL, degrade=False))
    assert base.cast is None and base.moving_ids == scene.moving_ids
    assert np.array_equal(base.camera.R, scene.camera.R)
    lit, shaded = render(base), render(scene)
    for name in ("instances", "depth", "surface_ids"):
        assert np.array_equal(getattr(lit, name), getattr(shaded, name))
    ground = [i for i, s in enumerate(scene.surfaces) if s.name == "ground"][0]
    diff = shaded.frames.astype(int) - lit.frames.astype(int)
    changed = np.abs(diff).max(-1) > 0
    assert changed.any()
    assert np.all(shaded.surface_ids[changed] == ground)  # only ground pixels change ...
    assert np.all(diff[changed] <= 0)  # ... and only get darker
    # ... and next to the objects: below their top, and at most the shadow's length below their foot
    sigma = scene.cast.blur_px * SMALL["width"] / 320.0
    for t in range(len(shaded.frames)):
        ys = np.nonzero(changed[t])[0]
        rows = np.nonzero(shaded.instances[t] > 0)[0]
        if len(ys) == 0:
            continue
        top, foot = rows.min(), rows.max()
        assert ys.min() >= top - 4 * sigma - 1
        assert ys.max() <= foot + scene.cast.squash * (foot - top) + 4 * sigma + 1


def test_on_water_objects_cast_reflections():
    seed = _find(lambda s: any(x.name == "ground" for x in s.surfaces) and len(s.moving_ids) > 0)
    scene = sample_scene(seed, SceneConfig(**SMALL, degrade=False, water_p=1.0, shadow_p=1.0))
    assert scene.cast is not None and scene.cast.reflection
    plain = render(sample_scene(seed, SceneConfig(**SMALL, degrade=False, water_p=1.0)))
    mirrored = render(scene)
    assert np.array_equal(plain.instances, mirrored.instances)
    assert np.abs(mirrored.frames.astype(int) - plain.frames.astype(int)).max() > 5


def test_near_static_objects_are_close_static_and_leave_the_rest_alone():
    """near_static_p adds static objects close to the camera, from a stream of its own: everything
    else of a seed stays as it was, and the new objects move only with the camera, nearer than the
    background (so with more parallax)."""
    cfg = SceneConfig(**SMALL, degrade=False, near_static_p=1.0)
    for seed in range(40):
        base = sample_scene(seed, SceneConfig(**SMALL, degrade=False))
        scene = sample_scene(seed, cfg)
        assert scene.moving_ids == base.moving_ids and np.array_equal(scene.camera.R, base.camera.R)
        assert scene.static_ids[:len(base.static_ids)] == base.static_ids
        near = scene.static_ids[len(base.static_ids):]
        assert 1 <= len(near) <= 3 and min(near) > max(base.moving_ids + base.static_ids, default=0)
        assert [s.name for s in scene.surfaces if not s.name.startswith("near")] == [s.name for s in base.surfaces]
        if not np.abs(scene.camera.centre[-1] - scene.camera.centre[0]).max() > 0.05:
            continue
        clip = render(scene)
        pts = [_object_points(clip, k) for k in near]
        pts = [p for p in pts if len(p) >= 10]
        if not pts:
            continue
        for p in pts:
            gt, _, _ = clip.gt_tracks(p, 0)
            assert np.nanmax(np.linalg.norm(gt - _camera_prediction(clip, p), axis=-1)) < 0.05
        near_mask = np.isin(clip.instances[0], near)
        assert np.median(clip.depth[0][near_mask]) < np.median(clip.depth[0][clip.instances[0] == 0])
        return
    raise AssertionError("no seed with a translating camera and a visible near static object")
