"""A tiny generated folder laid out like ``../shared/data/davis16-dev`` (never the real data), for the
benchmarks' tests: ``<root>/pan-square/{clip.mp4, masks/00000.png ...}``."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from _scenes import Square, make_scene
from _video import write_video

SEQUENCE = "pan-square"
FRAMES = 12


def write_davis_like(root: Path) -> Path:
    """A camera pan over a moving square and a static look-alike; masks (0 / 255) mark the moving
    square only, as DAVIS marks the moving object. Returns ``root``."""
    scene = make_scene(num_frames=FRAMES, height=96, width=128, pan=(1.5, 0.5),
                       squares=(Square(36, 30, 30, (1.2, 1.0), seed=5), Square(90, 8, 22, seed=6)))
    seq = root / SEQUENCE
    (seq / "masks").mkdir(parents=True)
    write_video(str(seq / "clip.mp4"), scene.frames, crf=10)
    for t, labels in enumerate(scene.labels):  # labels hold the moving squares only
        cv2.imwrite(str(seq / "masks" / f"{t:05d}.png"), (labels > 0).astype(np.uint8) * 255)
    return root
