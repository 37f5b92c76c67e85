"""A rendered clip with its exact ground truth, and the queries that training and tests need."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import CameraPath


@dataclass
class SynthClip:
    frames: np.ndarray  # [T, H, W, 3] uint8 RGB
    instances: np.ndarray  # [T, H, W] uint8, 0 background, k = object k (moving or static)
    depth: np.ndarray  # [T, H, W] float32, camera z in scene units
    surface_ids: np.ndarray  # [T, H, W] int16, index of the front surface (-1: none)
    homographies: np.ndarray  # [S, T, 3, 3] texel (u, v, 1) -> pixel, per surface and frame
    surface_instance: np.ndarray  # [S] int, instance id of each surface
    surface_rigid: np.ndarray  # [S] bool, False for surfaces whose texture wobbles (non-rigid)
    moving_ids: tuple  # instance ids that move on their own
    static_ids: tuple  # instance ids of objects that stand still (look-alikes and clutter)
    camera: CameraPath
    seed: int

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def moving_masks(self) -> np.ndarray:
        """[T, H, W] bool: pixels of objects that move on their own."""
        return np.isin(self.instances, np.asarray(self.moving_ids, np.uint8))

    def instance_at(self, xy: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """Instance id under pixel positions ``xy [N, 2]`` at frames ``frame [N]`` (nearest pixel)."""
        T, H, W = self.instances.shape
        x = np.clip(np.rint(xy[:, 0]).astype(np.int64), 0, W - 1)
        y = np.clip(np.rint(xy[:, 1]).astype(np.int64), 0, H - 1)
        f = np.clip(np.asarray(frame, np.int64), 0, T - 1)
        return self.instances[f, y, x]

    def label_tracks(self, xy: np.ndarray, query_frame: np.ndarray) -> np.ndarray:
        """Moving/static label of tracks ``xy [N, T, 2]`` from the GT masks at each track's query frame
        (as the paper labels its training tracks)."""
        n = np.arange(xy.shape[0])
        q = np.asarray(query_frame, np.int64)
        inst = self.instance_at(xy[n, q], q)
        return np.isin(inst, np.asarray(self.moving_ids, np.int64))

    def gt_tracks(self, points: np.ndarray, frame: int):
        """Exact tracks of pixel ``points [N, 2]`` seen at ``frame``.

        Returns ``xy [N, T, 2]`` (where the same surface point projects in every frame),
        ``visible [N, T]`` (that surface is in front there and inside the image) and ``surface [N]``.
        Non-rigid surfaces are followed through their rigid motion only.
        """
        T, H, W = self.instances.shape
        x = np.clip(np.rint(points[:, 0]).astype(np.int64), 0, W - 1)
        y = np.clip(np.rint(points[:, 1]).astype(np.int64), 0, H - 1)
        surf = self.surface_ids[frame, y, x].astype(np.int64)
        ph = np.concatenate([points.astype(np.float64), np.ones((len(points), 1))], 1)
        xy = np.full((len(points), T, 2), np.nan)
        vis = np.zeros((len(points), T), bool)
        for s in np.unique(surf):
            if s < 0:
                continue
            sel = surf == s
            uv = ph[sel] @ np.linalg.inv(self.homographies[s, frame]).T
            uv /= uv[:, 2:]
            for t in range(T):
                p = uv @ self.homographies[s, t].T
                p = p[:, :2] / p[:, 2:]
                xy[sel, t] = p
                inside = (p[:, 0] > -0.5) & (p[:, 0] < W - 0.5) & (p[:, 1] > -0.5) & (p[:, 1] < H - 0.5)
                xi = np.clip(np.rint(p[:, 0]).astype(np.int64), 0, W - 1)
                yi = np.clip(np.rint(p[:, 1]).astype(np.int64), 0, H - 1)
                vis[sel, t] = inside & (self.surface_ids[t, yi, xi] == s)
        return xy.astype(np.float32), vis, surf
