"""Camera paths: pan, tilt, roll, translation, zoom, hand-held shake, and following a subject.

World frame = the camera frame at t = 0 (x right, y down, z forward). A pose maps world points into
the camera: ``X_cam = R @ (X_world - centre)``; pixels are ``K @ X_cam``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def cam_to_world(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Orientation of a camera that looks ``yaw`` to the right and ``pitch`` up (radians)."""
    return rot_y(yaw) @ rot_x(pitch) @ rot_z(roll)


@dataclass
class CameraPath:
    K: np.ndarray  # [T, 3, 3] intrinsics (focal changes when zooming)
    R: np.ndarray  # [T, 3, 3] world -> camera rotation
    centre: np.ndarray  # [T, 3] camera centre in world coordinates

    @property
    def num_frames(self) -> int:
        return int(self.K.shape[0])

    def project(self, X: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
        """World points [..., 3] -> (pixels [..., 2], camera depth [...]) at frame ``t``."""
        Xc = (X - self.centre[t]) @ self.R[t].T
        uvw = Xc @ self.K[t].T
        z = Xc[..., 2]
        return uvw[..., :2] / np.where(np.abs(uvw[..., 2:]) < 1e-9, 1e-9, uvw[..., 2:]), z

    def unproject(self, xy: np.ndarray, depth: np.ndarray, t: int) -> np.ndarray:
        """Pixels [..., 2] with camera depth [...] at frame ``t`` -> world points [..., 3]."""
        K = self.K[t]
        rays = np.stack([(xy[..., 0] - K[0, 2]) / K[0, 0], (xy[..., 1] - K[1, 2]) / K[1, 1],
                         np.ones_like(xy[..., 0])], -1)
        Xc = rays * depth[..., None]
        return Xc @ self.R[t] + self.centre[t]


def smooth_noise(rng: np.random.Generator, T: int, sigma: float, corr: float) -> np.ndarray:
    """A smooth random signal of ``T`` samples: AR(1)-filtered white noise with std about ``sigma``."""
    x = np.zeros(T)
    v = 0.0
    for t in range(T):
        v = corr * v + np.sqrt(1 - corr ** 2) * rng.normal()
        x[t] = v
    return x * sigma


def intrinsics(width: int, height: int, focal: float) -> np.ndarray:
    return np.array([[focal, 0, (width - 1) / 2], [0, focal, (height - 1) / 2], [0, 0, 1.0]])


def sample_camera(rng: np.random.Generator, T: int, width: int, height: int, focal: float,
                  scene_depth: float, follow=None, base_pitch: float = 0.0) -> CameraPath:
    """A random camera path.

    ``scene_depth`` (metres to the bulk of the scene) sets translation speeds so that parallax is
    visible but not absurd. ``follow`` is an optional callable ``t -> world point``: the camera turns
    (with some lag) to keep that point where it was at t = 0, as videographers do with a subject.
    """
    t = np.arange(T, dtype=np.float64)
    mode = rng.choice(["static", "pan", "translate", "mixed", "forward"], p=[0.1, 0.25, 0.25, 0.3, 0.1])
    yaw0 = rng.normal(0, 0.05)
    pitch0 = base_pitch + rng.normal(0, 0.05)
    yaw_rate = pitch_rate = 0.0
    vel = np.zeros(3)
    if mode in ("pan", "mixed"):
        # typically 1-3 px/frame of panning at 320 px width
        yaw_rate = rng.normal(0, 0.005)
        pitch_rate = rng.normal(0, 0.002)
    if mode in ("translate", "mixed"):
        speed = scene_depth * rng.uniform(0.001, 0.012)
        d = rng.normal(size=3) * np.array([1.0, 0.3, 0.5])
        vel = d / np.linalg.norm(d) * speed
    if mode == "forward":
        vel = np.array([rng.normal(0, 0.2), 0, 1.0]) * scene_depth * rng.uniform(0.003, 0.012)
    acc = rng.normal(0, 0.0002, 3) * scene_depth * (mode != "static")
    yaw = yaw0 + yaw_rate * t + rng.normal(0, 0.00003) * t ** 2
    pitch = pitch0 + pitch_rate * t
    roll = rng.normal(0, 0.02) + rng.normal(0, 0.002) * t
    # Hand-held shake: a high-frequency jitter on the orientation and a little on the position.
    shake = rng.choice([0.0, rng.uniform(0.0005, 0.003)], p=[0.4, 0.6])
    yaw = yaw + smooth_noise(rng, T, shake, 0.5)
    pitch = pitch + smooth_noise(rng, T, shake, 0.5)
    roll = roll + smooth_noise(rng, T, shake * 0.5, 0.5)
    centre = vel[None] * t[:, None] + 0.5 * acc[None] * t[:, None] ** 2
    centre += np.stack([smooth_noise(rng, T, shake * scene_depth * 0.2, 0.5) for _ in range(3)], -1)
    if follow is not None:
        lag = rng.uniform(0.6, 1.0)
        p0 = follow(0) - centre[0]
        a0 = np.arctan2(p0[0], p0[2]), np.arctan2(-p0[1], np.hypot(p0[0], p0[2]))
        for i in range(T):
            p = follow(i) - centre[i]
            a = np.arctan2(p[0], p[2]), np.arctan2(-p[1], np.hypot(p[0], p[2]))
            yaw[i] = yaw[i] - yaw_rate * i + lag * (a[0] - a0[0])
            pitch[i] = pitch[i] - pitch_rate * i + lag * (a[1] - a0[1])
    zoom = 0.0 if rng.random() < 0.75 else rng.uniform(-0.4, 0.4)
    focals = focal * np.exp(zoom * t / max(T - 1, 1))
    K = np.stack([intrinsics(width, height, f) for f in focals])
    R = np.stack([cam_to_world(yaw[i], pitch[i], roll[i]).T for i in range(T)])
    return CameraPath(K=K, R=R, centre=centre)
