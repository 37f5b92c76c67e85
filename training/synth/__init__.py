"""Procedural training videos with exact ground truth (``motionseg_training.synth``).

``generate_clip(seed)`` renders a short clip of a 2.5-D layered scene (textured backdrop, skyline
layers and a ground plane or tilted wall at several depths, so camera translation creates parallax),
seen by a camera that pans, tilts, rolls, translates, zooms, shakes or follows a subject, with 0-4
objects that move on their own (rigid, wobbling or articulated; entering, leaving, occluding) and
static look-alikes with the same shapes and textures; optionally (``SceneConfig`` fields) water,
flat backgrounds, and shadows or reflections that the objects cast on the ground. Ground truth per
frame: instance masks with a moving flag per instance, depth, and exact point tracks
(:meth:`SynthClip.gt_tracks`).
"""
from __future__ import annotations

from typing import Optional

from .clip import SynthClip
from .scene import Scene, SceneConfig, sample_scene


def generate_clip(seed: int, config: Optional[SceneConfig] = None) -> SynthClip:
    """Render the clip of ``seed`` (the same seed and config always give the same clip)."""
    from .render import render

    return render(sample_scene(seed, config))


__all__ = ["SceneConfig", "Scene", "SynthClip", "generate_clip", "sample_scene"]
