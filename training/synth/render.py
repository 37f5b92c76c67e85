"""Render a :class:`Scene` into frames and exact ground truth.

Each planar surface goes through the camera as a homography (``cv2.warpPerspective`` into the
surface's screen bounding box) and gets an exact per-pixel depth (1/z is affine in pixel coordinates
for a plane). Surfaces are drawn far to near with a z-buffer, so intersections (objects standing on
the ground, layers sinking below it) and mutual occlusions come out right, and soft alpha edges
blend over what is behind them.
"""
from __future__ import annotations

import cv2
import numpy as np

from . import degrade
from .clip import SynthClip
from .scene import Scene, Surface
from .shadows import cast_onto

NEAR = 0.05  # camera near plane (scene units)


def _deformed(s: Surface, t: int, cache: dict) -> np.ndarray:
    amp, wave, omega, phase = s.deform
    h, w = s.tex.shape[:2]
    key = id(s)
    if key not in cache:
        cache[key] = np.mgrid[0:h, 0:w].astype(np.float32)
    yy, xx = cache[key]
    mx = xx + amp * np.sin(2 * np.pi * yy / wave + omega * t + phase)
    my = yy + amp * np.sin(2 * np.pi * xx / wave + omega * t + phase + 1.0)
    return cv2.remap(s.tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def surface_homography(s: Surface, cam, t: int) -> np.ndarray:
    """Texel (u, v, 1) -> homogeneous pixel, at frame t."""
    R, c, K = cam.R[t], cam.centre[t], cam.K[t]
    cols = np.stack([R @ s.axis_u[t], R @ s.axis_v[t], R @ (s.origin[t] - c)], 1)
    return K @ cols


def _corner_depths(s: Surface, cam, t: int) -> np.ndarray:
    h, w = s.tex.shape[:2]
    R, c = cam.R[t], cam.centre[t]
    uv = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], np.float64)
    X = s.origin[t][None] + uv[:, :1] * s.axis_u[t][None] + uv[:, 1:] * s.axis_v[t][None]
    return (X - c) @ R.T


def render(scene: Scene) -> SynthClip:
    cfg, cam = scene.config, scene.camera
    W, H, T = cfg.width, cfg.height, cfg.num_frames
    S = len(scene.surfaces)
    frames = np.zeros((T, H, W, 3), np.uint8)
    instances = np.zeros((T, H, W), np.uint8)
    depth = np.zeros((T, H, W), np.float32)
    sids = np.full((T, H, W), -1, np.int16)
    homs = np.zeros((S, T, 3, 3))
    cache: dict = {}
    noise_rng = np.random.default_rng(scene.degrade_params.get("noise_seed", scene.seed))
    ground_si = next((i for i, s in enumerate(scene.surfaces) if s.name in ("ground", "water")), None)
    casters = sorted({s.instance for s in scene.surfaces if s.instance}) if scene.cast and ground_si is not None else []
    xs = np.arange(W, dtype=np.float32)
    ys = np.arange(H, dtype=np.float32)
    for t in range(T):
        K = cam.K[t]
        img = np.zeros((H, W, 3), np.float32)
        zbuf = np.full((H, W), np.inf, np.float32)
        inst = instances[t]
        sid = sids[t]
        cover = {k: np.zeros((H, W), np.float32) for k in casters}  # each object's visible alpha
        corners = [_corner_depths(s, cam, t) for s in scene.surfaces]
        order = sorted(range(S), key=lambda i: -float(np.mean(corners[i][:, 2])))
        for si in order:
            s = scene.surfaces[si]
            M = surface_homography(s, cam, t)
            homs[si, t] = M
            cz = corners[si][:, 2]
            if cz.max() <= NEAR:
                continue
            blur_k = None
            if s.motion_blur > 0 and s.moving:
                # image motion of the surface centre over the exposure
                h, w = s.tex.shape[:2]
                t2 = min(t + 1, T - 1)
                t1 = t2 - 1
                c = np.array([w / 2, h / 2, 1.0])
                p1 = surface_homography(s, cam, t1) @ c
                p2 = surface_homography(s, cam, t2) @ c
                d = p2[:2] / p2[2] - p1[:2] / p1[2] if min(p1[2], p2[2]) > NEAR else np.zeros(2)
                d = d * min(1.0, 20.0 / max(float(np.hypot(*d)), 1e-6))  # at most 20 px of blur
                blur_k = degrade.line_kernel(d[0] * s.motion_blur, d[1] * s.motion_blur)
            pad = 0 if blur_k is None else blur_k.shape[0]
            if cz.min() > NEAR:
                h, w = s.tex.shape[:2]
                pc = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64) @ M.T
                pc = pc[:, :2] / pc[:, 2:]
                x0 = int(max(0, np.floor(pc[:, 0].min()) - 1 - pad))
                x1 = int(min(W, np.ceil(pc[:, 0].max()) + 2 + pad))
                y0 = int(max(0, np.floor(pc[:, 1].min()) - 1 - pad))
                y1 = int(min(H, np.ceil(pc[:, 1].max()) + 2 + pad))
            else:  # the plane crosses the camera plane (ground): draw it everywhere, mask by depth
                x0, x1, y0, y1 = 0, W, 0, H
            if x1 <= x0 or y1 <= y0:
                continue
            shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1.0]])
            tex = s.tex if s.rigid else _deformed(s, t, cache)
            warped = cv2.warpPerspective(tex, shift @ M, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            if blur_k is not None:
                warped = cv2.filter2D(warped, -1, blur_k, borderType=cv2.BORDER_CONSTANT)
            # exact depth of the plane at every pixel of the box
            R, c = cam.R[t], cam.centre[t]
            n = np.cross(R @ s.axis_u[t], R @ s.axis_v[t])
            dist = float(n @ (R @ (s.origin[t] - c)))
            if abs(dist) < 1e-12:
                continue
            rx = (xs[x0:x1] - K[0, 2]) / K[0, 0]
            ry = (ys[y0:y1] - K[1, 2]) / K[1, 1]
            invz = (n[0] * rx[None, :] + n[1] * ry[:, None] + n[2]) / dist
            alpha = warped[..., 3]
            ok = (alpha > 0.004) & (invz > 1.0 / 1e6)
            z = np.where(ok, 1.0 / np.where(ok, invz, 1.0), np.inf).astype(np.float32)
            zb = zbuf[y0:y1, x0:x1]
            front = ok & (z < zb)
            a = np.where(front, alpha, 0.0)[..., None]
            gain = 1.0 if s.brightness is None else float(s.brightness[t])
            im = img[y0:y1, x0:x1]
            im *= 1.0 - a
            im += warped[..., :3] * gain * front[..., None]
            if s.instance in cover:
                box = cover[s.instance][y0:y1, x0:x1]
                np.maximum(box, a[..., 0], out=box)
            solid = front & (alpha > 0.5)
            zb[solid] = z[solid]
            inst[y0:y1, x0:x1][solid] = s.instance
            sid[y0:y1, x0:x1][solid] = si
        if casters:
            visible_ground = sid == ground_si  # shadows fall where the ground is seen, never on the caster
            for k in casters:
                cast_onto(img, cover[k] * (inst == k), visible_ground, scene.cast)
        zbuf[~np.isfinite(zbuf)] = 0.0
        depth[t] = zbuf
        # camera-induced image motion at the centre, for camera motion blur
        t2 = min(t + 1, T - 1)
        t1 = t2 - 1 if T > 1 else t2
        zc = float(np.median(depth[t][depth[t] > 0])) if np.any(depth[t] > 0) else 1.0
        ctr = np.array([[(W - 1) / 2, (H - 1) / 2]])
        Xw = cam.unproject(ctr, np.array([zc]), t1)
        p2, _ = cam.project(Xw, t2)
        flow = tuple((p2 - ctr)[0])
        frames[t] = degrade.apply(img, t, scene.degrade_params, flow, noise_rng)
    surface_instance = np.array([s.instance for s in scene.surfaces], np.int64)
    surface_rigid = np.array([s.rigid for s in scene.surfaces], bool)
    return SynthClip(frames=frames, instances=instances, depth=depth, surface_ids=sids, homographies=homs,
                     surface_instance=surface_instance, surface_rigid=surface_rigid,
                     moving_ids=scene.moving_ids, static_ids=scene.static_ids, camera=cam, seed=scene.seed)
