"""Random 2.5-D scenes: textured planes at several depths, a ground plane, and objects.

Every visible thing is a textured planar *surface* whose texel (u, v) sits at the world point
``origin[t] + u * axis_u[t] + v * axis_v[t]``. Background planes never move; object surfaces move when
their object moves on its own. Rendering a plane through the camera is an exact homography, and its
depth is exact per pixel, so camera translation creates true parallax between depths.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from . import shapes
from .camera import CameraPath, rot_y, rot_z, sample_camera, smooth_noise
from .shadows import Cast, sample_cast
from .textures import jitter_colour, make_texture


@dataclass
class SceneConfig:
    width: int = 320
    height: int = 180
    num_frames: int = 32
    max_moving: int = 4
    # Probability of each number of independently moving objects 0..4.
    moving_count_p: tuple = (0.05, 0.5, 0.25, 0.12, 0.08)
    degrade: bool = True
    # Probability that a clip with motion has a dominant, close subject (as most real clips do).
    dominant_p: float = 0.45
    # Probability that the ground is water: its texture ripples (background that moves, but not on
    # its own). Drawn from a stream of its own, so that 0 renders exactly the clips it always did.
    water_p: float = 0.0
    # Probability that a background surface is nearly flat (sky, road, wall, calm water): blurred, low
    # contrast. Optical flow spills an object's motion onto such surroundings, as it does in real
    # video. Drawn from a stream of its own, like water_p.
    smooth_p: float = 0.0
    # Probability that the objects of a clip with a ground cast shadows on it (reflections, when the
    # ground is water): background that moves with an object, which real video is full of
    # (:mod:`.shadows`). Drawn from a stream of its own, like water_p.
    shadow_p: float = 0.0
    # Probability that 1-3 extra static objects stand close to the camera (a fifth to a third of the
    # scene's depth away): under a translating camera their parallax is as large as an object's own
    # motion, the hardest static tracks of real video (flower pots beside a followed motorbike). Drawn
    # from a stream of its own, like water_p; they come after the other objects' instance ids.
    near_static_p: float = 0.0


@dataclass
class Surface:
    tex: np.ndarray  # [h, w, 4] float32, premultiplied RGB + alpha
    origin: np.ndarray  # [T, 3] world position of texel (0, 0)
    axis_u: np.ndarray  # [T, 3] world step of one texel along u (columns)
    axis_v: np.ndarray  # [T, 3] world step of one texel along v (rows)
    instance: int = 0  # 0 = background, k = object k
    moving: bool = False  # moves on its own (never true for background)
    # Non-rigid wobble of the texture (amplitude in texels, wavelength in texels, angular speed, phase).
    deform: Optional[tuple] = None
    brightness: Optional[np.ndarray] = None  # [T] lighting gain on this surface
    motion_blur: float = 0.0  # exposure as a fraction of the frame interval
    name: str = ""

    @property
    def rigid(self) -> bool:
        return self.deform is None


@dataclass
class Scene:
    config: SceneConfig
    camera: CameraPath
    surfaces: list
    moving_ids: tuple
    static_ids: tuple
    seed: int
    degrade_params: dict = field(default_factory=dict)
    cast: Optional[Cast] = None  # shadows / reflections of the objects on the ground (None: none)


def _loguniform(rng, lo, hi):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _flatten(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """A nearly flat version of a texture: most detail blurred away, the rest at low contrast."""
    import cv2

    sigma = rng.uniform(4.0, 20.0)
    blurred = cv2.GaussianBlur(rgb, (0, 0), sigma)
    keep = rng.uniform(0.0, 0.25)  # fraction of the original detail left
    mixed = blurred + keep * (rgb - blurred)
    mean = mixed.reshape(-1, 3).mean(0)
    return np.clip(mean + rng.uniform(0.3, 0.8) * (mixed - mean), 0.0, 1.0).astype(np.float32)


def _premultiply(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return np.concatenate([rgb * alpha[..., None], alpha[..., None]], -1).astype(np.float32)


def _static(v: np.ndarray, T: int) -> np.ndarray:
    return np.repeat(np.asarray(v, np.float64)[None], T, 0)


def _plane_surface(tex_rgb, alpha, origin, axis_u, axis_v, T, name, rng) -> Surface:
    return Surface(tex=_premultiply(tex_rgb, alpha), origin=_static(origin, T), axis_u=_static(axis_u, T),
                   axis_v=_static(axis_v, T), brightness=1.0 + smooth_noise(rng, T, 0.03, 0.9), name=name)


# ----------------------------------------------------------------------------------------------
# Objects: a body pose over time (centre + orientation) and parts placed in the body's plane.
# ----------------------------------------------------------------------------------------------
@dataclass
class _Part:
    tex: np.ndarray  # premultiplied RGBA
    size: tuple  # (width, height) in metres
    anchor: tuple  # (x, y) in the body plane where the part's pivot sits, metres
    pivot: tuple  # (x, y) of the pivot inside the part, as a fraction of its size
    swing: np.ndarray  # [T] in-plane angle of the part around its pivot, radians


def _object_parts(rng, kind: str, w_m: float, h_m: float, tex_px: int, T: int, articulate: bool,
                  texture=None) -> list:
    """Parts of an object of the given kind; ``articulate`` animates limbs (a static look-alike has
    the same parts, standing still)."""
    texture = texture if texture is not None else {}

    def tex_for(key, ph, pw, shape):
        if key not in texture:
            texture[key] = make_texture(rng, ph, pw)
        rgb = texture[key]
        if rgb.shape[:2] != (ph, pw):
            import cv2
            rgb = cv2.resize(rgb, (pw, ph), interpolation=cv2.INTER_AREA)
        return _premultiply(rgb, shapes.silhouette(rng, shape, ph, pw))

    px_per_m = tex_px / max(w_m, h_m)

    def part(key, shape, pw_m, ph_m, anchor, pivot, amp, freq, phase):
        pw, ph = max(6, int(pw_m * px_per_m)), max(6, int(ph_m * px_per_m))
        t = np.arange(T)
        swing = amp * np.sin(freq * t + phase) if articulate else np.zeros(T)
        return _Part(tex_for(key, ph, pw, shape), (pw_m, ph_m), anchor, pivot, swing)

    if kind == "walker":
        amp, freq, ph0 = rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.5), rng.uniform(0, 6.3)
        W, H = w_m, h_m
        return [
            part("legs", "box", 0.16 * W, 0.45 * H, (-0.1 * W, 0.05 * H), (0.5, 0.05), amp, freq, ph0),
            part("legs", "box", 0.16 * W, 0.45 * H, (0.1 * W, 0.05 * H), (0.5, 0.05), amp, freq, ph0 + np.pi),
            part("body", "ellipse", 0.55 * W, 0.45 * H, (0.0, -0.12 * H), (0.5, 0.5), 0.05, freq, ph0),
            part("legs", "box", 0.12 * W, 0.38 * H, (-0.27 * W, -0.3 * H), (0.5, 0.05), amp, freq, ph0 + np.pi),
            part("legs", "box", 0.12 * W, 0.38 * H, (0.27 * W, -0.3 * H), (0.5, 0.05), amp, freq, ph0),
            part("head", "ellipse", 0.3 * W, 0.2 * H, (0.0, -0.4 * H), (0.5, 0.5), 0.1, freq, ph0),
        ]
    if kind == "quadruped":
        amp, freq, ph0 = rng.uniform(0.25, 0.6), rng.uniform(0.2, 0.6), rng.uniform(0, 6.3)
        W, H = w_m, h_m
        legs = [part("legs", "box", 0.1 * W, 0.5 * H, (x * W, 0.05 * H), (0.5, 0.05), amp, freq,
                     ph0 + p) for x, p in ((-0.35, 0), (-0.25, np.pi), (0.25, np.pi), (0.35, 0))]
        return legs + [
            part("body", "ellipse", 0.85 * W, 0.5 * H, (0.0, -0.1 * H), (0.5, 0.5), 0.03, freq, ph0),
            part("head", "blob", 0.3 * W, 0.35 * H, (0.45 * W, -0.35 * H), (0.5, 0.5), 0.15, freq, ph0),
        ]
    shape = kind
    return [part("body", shape, w_m, h_m, (0.0, 0.0), (0.5, 0.5), 0.0, 0.0, 0.0)]


def _place_parts(parts, centre: np.ndarray, orient: np.ndarray, instance: int, moving: bool,
                 brightness, deform, motion_blur, name) -> list:
    """World poses of each part from the body pose ``centre [T,3]``, ``orient [T,3,3]``."""
    out = []
    T = centre.shape[0]
    for i, p in enumerate(parts):
        h, w = p.tex.shape[:2]
        origin = np.zeros((T, 3))
        au = np.zeros((T, 3))
        av = np.zeros((T, 3))
        for t in range(T):
            c, s = np.cos(p.swing[t]), np.sin(p.swing[t])
            r2 = np.array([[c, -s], [s, c]])
            ex = r2 @ np.array([p.size[0] / w, 0.0])  # texel steps in the body plane
            ey = r2 @ np.array([0.0, p.size[1] / h])
            pivot_tex = np.array([p.pivot[0] * w, p.pivot[1] * h])
            o2 = np.array(p.anchor) - ex * pivot_tex[0] - ey * pivot_tex[1]
            R = orient[t]
            origin[t] = centre[t] + R @ np.array([o2[0], o2[1], 0.0])
            au[t] = R @ np.array([ex[0], ex[1], 0.0])
            av[t] = R @ np.array([ey[0], ey[1], 0.0])
        out.append(Surface(tex=p.tex, origin=origin, axis_u=au, axis_v=av, instance=instance,
                           moving=moving, deform=deform if len(parts) == 1 else None,
                           brightness=brightness, motion_blur=motion_blur, name=f"{name}.{i}"))
    return out


def _object_motion(rng, T, P0, speed_world, direction, grounded, moving):
    """Centre [T,3] and orientation [T,3,3] of an object's body over the clip."""
    t = np.arange(T, dtype=np.float64)[:, None]
    yaw0 = rng.normal(0, 0.5)
    roll0 = 0.0 if grounded else rng.normal(0, 0.4)
    if not moving:
        centre = np.repeat(P0[None], T, 0)
        orient = np.repeat((rot_y(yaw0) @ rot_z(roll0))[None], T, 0)
        return centre, orient
    V = direction * speed_world
    turn = rng.normal(0, 0.03)  # curved paths
    acc = rng.normal(0, 0.05, 3) * speed_world
    if grounded:
        acc[1] = 0.0
    heading = turn * t
    Vx = V[0] * np.cos(heading) - V[2] * np.sin(heading)
    Vz = V[0] * np.sin(heading) + V[2] * np.cos(heading)
    vel = np.concatenate([Vx, np.full_like(Vx, V[1]), Vz], 1) + acc[None] * t
    centre = P0[None] + np.cumsum(np.concatenate([np.zeros((1, 3)), vel[:-1]], 0), 0)
    wobble = np.stack([smooth_noise(rng, T, 0.15 * speed_world, 0.8) for _ in range(3)], -1)
    if grounded:
        # gait bounce instead of free wobble
        wobble[:, 1] = 0.1 * speed_world * np.abs(np.sin(rng.uniform(0.2, 0.5) * t[:, 0]))
    centre = centre + wobble
    yaw_rate = rng.normal(0, 0.02)
    roll_rate = 0.0 if grounded else rng.normal(0, 0.03)
    orient = np.stack([rot_y(yaw0 + yaw_rate * i) @ rot_z(roll0 + roll_rate * i) for i in range(T)])
    return centre, orient


def sample_scene(seed: int, config: Optional[SceneConfig] = None) -> Scene:
    """A random scene, fully determined by ``seed``."""
    cfg = config or SceneConfig()
    rng = np.random.default_rng(seed)
    W, H, T = cfg.width, cfg.height, cfg.num_frames
    px = W / 320.0  # speeds are chosen at 320 px width and scaled
    focal = W * rng.uniform(0.6, 1.4)
    scene_depth = _loguniform(rng, 4.0, 25.0)
    has_ground = rng.random() < 0.65
    cam_h = scene_depth * rng.uniform(0.08, 0.35)
    base_pitch = -rng.uniform(0.0, 0.3) if has_ground else 0.0
    surfaces: list = []
    cast = None
    flat_rng = np.random.default_rng([seed, 12])  # smooth_p's own stream (see SceneConfig)

    # --- background: a far backdrop, skyline layers, a ground plane or a tilted wall -------------------
    def fronto_layer(depth, alpha_kind, name, yaw=0.0, extent=3.2, y_top=None):
        texel = depth / focal * rng.uniform(0.7, 1.2)
        world_w = extent * W * depth / focal
        world_h = extent * H * depth / focal * (1.4 if alpha_kind else 1.0)
        # cap the texture size (speed); a coarser texel keeps the world extent
        texel = max(texel, world_w / 1400, world_h / 1000)
        w_tex, h_tex = int(world_w / texel), int(world_h / texel)
        rgb = make_texture(rng, h_tex, w_tex)
        if flat_rng.random() < cfg.smooth_p:
            rgb = _flatten(flat_rng, rgb)
        alpha = np.ones((h_tex, w_tex), np.float32) if not alpha_kind else shapes.skyline(rng, h_tex, w_tex, alpha_kind)
        R = rot_y(yaw)
        au, av = R @ np.array([texel, 0, 0]), R @ np.array([0, texel, 0])
        top = y_top if y_top is not None else -h_tex * texel / 2
        origin = np.array([0.0, top, depth]) - au * w_tex / 2
        return _plane_surface(rgb, alpha, origin, au, av, T, name, rng)

    far = scene_depth * rng.uniform(3.0, 8.0)
    surfaces.append(fronto_layer(far, None, "backdrop", extent=3.5))
    n_layers = int(rng.integers(0, 4))
    for i in range(n_layers):
        d = scene_depth * rng.uniform(0.7, 2.5)
        kind = str(rng.choice(["hills", "trees", "buildings"]))
        ext_top = -d * H / focal * rng.uniform(0.1, 0.9)  # top of the layer, above the horizon
        surfaces.append(fronto_layer(d, kind, f"layer{i}", yaw=rng.normal(0, 0.3), extent=3.0,
                                     y_top=ext_top))
    if has_ground:
        texel = rng.uniform(0.01, 0.03) * scene_depth / 4
        z0, z1 = 0.3, scene_depth * 4
        half = scene_depth * 2.5
        w_tex = int(min(1400, 2 * half / texel))
        h_tex = int(min(1200, (z1 - z0) / texel))
        texel_u, texel_v = 2 * half / w_tex, (z1 - z0) / h_tex
        rgb = make_texture(rng, h_tex, w_tex)
        if flat_rng.random() < cfg.smooth_p:
            rgb = _flatten(flat_rng, rgb)
        ground = _plane_surface(rgb, np.ones((h_tex, w_tex), np.float32), np.array([-half, cam_h, z1]),
                                np.array([texel_u, 0, 0]), np.array([0, 0, -texel_v]), T, "ground", rng)
        water_rng = np.random.default_rng([seed, 11])
        if water_rng.random() < cfg.water_p:
            # ripples: the texture wobbles by a few texels, waves of tens of texels, a fraction of a
            # period per frame (the tracker follows the ripples, not the camera)
            ground.deform = (water_rng.uniform(1.5, 5.0), water_rng.uniform(12.0, 60.0),
                             water_rng.uniform(0.3, 1.0), water_rng.uniform(0, 6.3))
            ground.name = "water"
        surfaces.append(ground)
        cast_rng = np.random.default_rng([seed, 13])  # shadow_p's own stream (see SceneConfig)
        if cast_rng.random() < cfg.shadow_p:
            cast = sample_cast(cast_rng, water=ground.name == "water")
    else:
        # A close tilted wall or a slanted floor seen from above: strong depth gradient without a horizon.
        d = scene_depth * rng.uniform(0.8, 1.5)
        surfaces.append(fronto_layer(d, None, "wall", yaw=rng.uniform(-0.9, 0.9), extent=4.0))

    # --- objects -------------------------------------------------------------------------------------
    n_moving = int(rng.choice(len(cfg.moving_count_p), p=np.asarray(cfg.moving_count_p) / sum(cfg.moving_count_p)))
    n_moving = min(n_moving, cfg.max_moving)
    specs = []  # (moving, kind, texture dict, twin_of)
    for i in range(n_moving):
        specs.append({"moving": True, "kind": str(rng.choice(shapes.SHAPES)), "texture": {}})
    for i in range(n_moving):
        if rng.random() < 0.6:  # a static look-alike: same shape kind and texture, recoloured slightly
            src = specs[i]
            specs.append({"moving": False, "kind": src["kind"], "texture": src["texture"], "twin": True})
    for _ in range(int(rng.integers(0, 3))):
        specs.append({"moving": False, "kind": str(rng.choice(shapes.SHAPES)), "texture": {}})
    rng.shuffle(specs)

    dominant = n_moving > 0 and rng.random() < cfg.dominant_p
    moving_ids, static_ids = [], []
    bodies = {}
    first_moving = None
    for k, spec in enumerate(specs, start=1):
        kind = spec["kind"]
        is_dom = dominant and spec["moving"] and first_moving is None
        grounded = has_ground and (kind in ("walker", "quadruped") or rng.random() < 0.6)
        if is_dom:
            Z0 = scene_depth * rng.uniform(0.15, 0.5)
            h_px = H * rng.uniform(0.5, 1.1)
        else:
            Z0 = scene_depth * _loguniform(rng, 0.25, 1.6)
            h_px = H * _loguniform(rng, 0.2, 0.8)
        aspect, h_m, w_m = _body_size(rng, kind, h_px, Z0, focal)
        enters = spec["moving"] and not is_dom and rng.random() < 0.3
        u0 = (rng.choice([-0.15, 1.15]) if enters else rng.uniform(0.1, 0.9)) * W
        if is_dom:
            u0 = rng.uniform(0.3, 0.7) * W
        X0 = (u0 - (W - 1) / 2) / focal * Z0
        if grounded:
            Y0 = cam_h - h_m / 2
            # keep it on the ground (the ground is at y = cam_h) while on screen
        else:
            v0 = rng.uniform(0.15, 0.85) * H
            Y0 = (v0 - (H - 1) / 2) / focal * Z0
        P0 = np.array([X0, Y0, Z0])
        speed_px = _loguniform(rng, 0.4, 6.0) * px
        if is_dom:
            speed_px = _loguniform(rng, 0.5, 5.0) * px
        speed_world = speed_px * Z0 / focal
        if grounded:
            ang = rng.normal(0, 0.35) + (np.pi if (enters and u0 > W / 2) or (not enters and rng.random() < 0.5) else 0)
            direction = np.array([np.cos(ang), 0.0, np.sin(ang) * 0.8])
        else:
            ang = rng.uniform(0, 2 * np.pi)
            if enters:
                ang = rng.normal(np.pi if u0 > W / 2 else 0.0, 0.4)
            direction = np.array([np.cos(ang), np.sin(ang), rng.normal(0, 0.3)])
        direction /= np.linalg.norm(direction)
        centre, orient = _object_motion(rng, T, P0, speed_world, direction, grounded, spec["moving"])
        tex_px = int(np.clip(max(h_px, h_px * aspect) * rng.uniform(0.9, 1.3), 24, 360))
        texture = spec["texture"]
        if spec.get("twin"):
            texture = {key: jitter_colour(rng, v) for key, v in texture.items()}
        parts = _object_parts(rng, kind, w_m, h_m, tex_px, T, articulate=spec["moving"], texture=texture)
        deform = None
        if spec["moving"] and kind in ("blob", "ellipse") and rng.random() < 0.5:
            deform = (rng.uniform(0.02, 0.08) * tex_px, rng.uniform(0.5, 1.5) * tex_px, rng.uniform(0.1, 0.4),
                      rng.uniform(0, 6.3))
        bright = 1.0 + smooth_noise(rng, T, 0.05, 0.9)
        blur = rng.uniform(0.3, 1.0) if (spec["moving"] and rng.random() < 0.5) else 0.0
        surfaces += _place_parts(parts, centre, orient, k, spec["moving"], bright, deform, blur, f"obj{k}")
        (moving_ids if spec["moving"] else static_ids).append(k)
        bodies[k] = centre
        if spec["moving"] and first_moving is None:
            first_moving = k

    near_rng = np.random.default_rng([seed, 17])  # near_static_p's own stream (see SceneConfig)
    if near_rng.random() < cfg.near_static_p:
        for k in range(len(specs) + 1, len(specs) + 1 + int(near_rng.integers(1, 4))):
            surfaces += _near_static(near_rng, k, specs, T, W, H, focal, scene_depth, cam_h, has_ground)
            static_ids.append(k)

    follow = None
    if first_moving is not None and rng.random() < (0.7 if dominant else 0.3):
        body = bodies[first_moving]
        follow = lambda t, b=body: b[t]  # noqa: E731
    camera = sample_camera(rng, T, W, H, focal, scene_depth, follow=follow, base_pitch=base_pitch)
    degrade_params = sample_degradation(rng, T) if cfg.degrade else {}
    return Scene(config=cfg, camera=camera, surfaces=surfaces, moving_ids=tuple(moving_ids),
                 static_ids=tuple(static_ids), seed=seed, degrade_params=degrade_params, cast=cast)


def _body_size(rng, kind: str, h_px: float, Z0: float, focal: float) -> tuple:
    """Aspect ratio and world height / width of an object ``h_px`` pixels tall at depth ``Z0``. All
    three aspect draws are made whatever the kind, so that every kind consumes the stream alike."""
    aspect = {"walker": rng.uniform(0.35, 0.6), "quadruped": rng.uniform(1.2, 2.0)}.get(kind, _loguniform(rng, 0.5, 2.0))
    h_m = h_px * Z0 / focal
    return aspect, h_m, h_m * aspect


def _near_static(rng, k: int, specs: list, T: int, W: int, H: int, focal: float, scene_depth: float,
                 cam_h: float, has_ground: bool) -> list:
    """The surfaces of a static object close to the camera; half of them share a moving object's
    shape and texture (recoloured slightly), as the look-alikes do."""
    movers = [sp for sp in specs if sp["moving"]]
    twin = movers[int(rng.integers(len(movers)))] if movers and rng.random() < 0.5 else None
    kind = twin["kind"] if twin else str(rng.choice(shapes.SHAPES))
    Z0 = scene_depth * rng.uniform(0.2, 0.35)
    h_px = H * rng.uniform(0.15, 0.5)
    aspect, h_m, w_m = _body_size(rng, kind, h_px, Z0, focal)
    u0 = rng.uniform(0.05, 0.95) * W
    X0 = (u0 - (W - 1) / 2) / focal * Z0
    grounded = has_ground and rng.random() < 0.7
    Y0 = cam_h - h_m / 2 if grounded else (rng.uniform(0.2, 0.8) * H - (H - 1) / 2) / focal * Z0
    centre, orient = _object_motion(rng, T, np.array([X0, Y0, Z0]), 0.0, np.array([1.0, 0.0, 0.0]), grounded,
                                    False)
    tex_px = int(np.clip(max(h_px, h_px * aspect) * rng.uniform(0.9, 1.3), 24, 360))
    texture = {key: jitter_colour(rng, v) for key, v in twin["texture"].items()} if twin else {}
    parts = _object_parts(rng, kind, w_m, h_m, tex_px, T, articulate=False, texture=texture)
    bright = 1.0 + smooth_noise(rng, T, 0.05, 0.9)
    return _place_parts(parts, centre, orient, k, False, bright, None, 0.0, f"near{k}")


def sample_degradation(rng: np.random.Generator, T: int) -> dict:
    """Photometric and optical nuisances, drawn once per clip (applied in :mod:`.degrade`)."""
    return {
        "gain": 1.0 + smooth_noise(rng, T, rng.uniform(0.0, 0.08), 0.9)
        + (rng.random(T) < 0.03) * rng.normal(0, 0.1, T),  # slow drift plus rare flicker
        "colour": 1.0 + rng.normal(0, 0.06, 3),
        "gamma": float(rng.uniform(0.8, 1.25)),
        "vignette": float(rng.uniform(0.0, 0.4)),
        "defocus": float(rng.choice([0.0, rng.uniform(0.4, 1.2)], p=[0.75, 0.25])),
        "cam_blur": float(rng.choice([0.0, rng.uniform(0.3, 1.0)], p=[0.6, 0.4])),
        "noise": float(rng.uniform(0.0, 2.5)),
        "jpeg": int(rng.choice([0, int(rng.integers(45, 95))], p=[0.3, 0.7])),
        "rescale": float(rng.choice([1.0, rng.uniform(0.5, 0.9)], p=[0.75, 0.25])),
        "noise_seed": int(rng.integers(0, 2 ** 31)),
    }
