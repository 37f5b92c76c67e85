"""The official model set's weight files: where they come from, where they go, how they are found.

``motionseg-trt download`` fetches them into the cache folder (``$MOTIONSEG_CACHE`` or
``~/.cache/motionseg-trt``, under ``weights/``); every loader also accepts an explicit local path.

Checksums: the publishers of these files do not list sha256 sums next to them, and none could be
looked up from here (no internet access while this was written). Where ``sha256`` is None the
download records the sha256 of the first complete download in ``<file>.sha256`` and checks every
later use against it (trust on first use; :func:`resolve_weight`, through
:func:`~motionseg_trt.download.verify_on_use`, which hashes a file again only when its size, times or
inode changed); pass ``--sha256`` or fill the table to pin one.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .cache import cache_root
from .errors import ModelFileError


def weights_dir(override: Optional[str] = None) -> Path:
    return Path(override) if override else cache_root() / "weights"


@dataclass(frozen=True)
class WeightFile:
    name: str  # registry name, used by --only and by the stage factories
    filename: str  # path under the weights folder
    url: str
    role: str  # what uses it
    sha256: Optional[str] = None  # None: recorded on first download (see module docstring)
    size: Optional[int] = None  # bytes, when known (a sanity check only)
    default: bool = True  # fetched by a plain `download --models official`


_SAM2 = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"
_DINO = "https://dl.fbaipublicfiles.com/dinov2/"
_HF = "https://huggingface.co/"

OFFICIAL_WEIGHTS: dict[str, WeightFile] = {w.name: w for w in [
    WeightFile("sam2.1_hiera_tiny", "sam2/sam2.1_hiera_tiny.pt", _SAM2 + "sam2.1_hiera_tiny.pt",
               "SAM2.1 densifier (default config sam2.1_hiera_t)"),
    WeightFile("sam2.1_hiera_small", "sam2/sam2.1_hiera_small.pt", _SAM2 + "sam2.1_hiera_small.pt",
               "SAM2.1 densifier (sam2.1_hiera_s)", default=False),
    WeightFile("sam2.1_hiera_base_plus", "sam2/sam2.1_hiera_base_plus.pt", _SAM2 + "sam2.1_hiera_base_plus.pt",
               "SAM2.1 densifier (sam2.1_hiera_b+)", default=False),
    WeightFile("sam2.1_hiera_large", "sam2/sam2.1_hiera_large.pt", _SAM2 + "sam2.1_hiera_large.pt",
               "SAM2.1 densifier (sam2.1_hiera_l, as the official pipeline)", default=False),
    WeightFile("dinov2_vitb14", "dinov2/dinov2_vitb14_pretrain.pth",
               _DINO + "dinov2_vitb14/dinov2_vitb14_pretrain.pth", "DINO key features (official: ViT-B/14)"),
    WeightFile("dinov2_vits14", "dinov2/dinov2_vits14_pretrain.pth",
               _DINO + "dinov2_vits14/dinov2_vits14_pretrain.pth", "DINO key features, ViT-S/14 option",
               default=False),
    WeightFile("depth_anything_v2_small", "depth_anything_v2/small/model.safetensors",
               _HF + "depth-anything/Depth-Anything-V2-Small-hf/resolve/main/model.safetensors",
               "depth (default: Small)"),
    WeightFile("depth_anything_v2_large", "depth_anything_v2/large/model.safetensors",
               _HF + "depth-anything/Depth-Anything-V2-Large-hf/resolve/main/model.safetensors",
               "depth, Large option (as the official pipeline)", default=False),
    WeightFile("bootstapir", "tapnet/bootstapir_checkpoint_v2.pt",
               "https://storage.googleapis.com/dm-tapnet/bootstap/bootstapir_checkpoint_v2.pt",
               "BootsTAPIR point tracker"),
    WeightFile("moseg", "segany/moseg.pth", _HF + "Changearthmore/moseg/resolve/main/moseg.pth",
               "SegAnyMo motion classifier (key model_state_dict)"),
]}

# Which registry entry each variant option of the stages maps to.
DINO_WEIGHTS = {"vitb14": "dinov2_vitb14", "vits14": "dinov2_vits14"}
DEPTH_WEIGHTS = {"small": "depth_anything_v2_small", "large": "depth_anything_v2_large"}
SAM2_WEIGHTS = {"sam2.1_hiera_t": "sam2.1_hiera_tiny", "sam2.1_hiera_s": "sam2.1_hiera_small",
                "sam2.1_hiera_b+": "sam2.1_hiera_base_plus", "sam2.1_hiera_l": "sam2.1_hiera_large"}


def weight_path(name: str, directory: Optional[str] = None) -> Path:
    """Where ``name`` lives (whether or not it has been downloaded)."""
    if name not in OFFICIAL_WEIGHTS:
        raise KeyError(f"unknown weight {name!r}; known: {', '.join(OFFICIAL_WEIGHTS)}")
    return weights_dir(directory) / OFFICIAL_WEIGHTS[name].filename


def resolve_weight(name: str, explicit: Optional[str] = None, directory: Optional[str] = None) -> str:
    """The file to load for ``name``: an explicit path if given (must exist), else the downloaded
    one. Raises ModelFileError naming the download command when it is missing."""
    from .download import verify_on_use

    if explicit:
        if not os.path.exists(explicit):
            raise ModelFileError(f"{name}: file not found: {explicit}")
        verify_on_use(explicit)  # when a checksum was recorded beside it
        return str(explicit)
    path = weight_path(name, directory)
    if not path.exists():
        raise ModelFileError(f"{name} weights not found at {path}; run `motionseg-trt download --only {name}`"
                             f" or pass the file's path")
    verify_on_use(path, OFFICIAL_WEIGHTS[name].sha256)
    return str(path)


@dataclass(frozen=True)
class WeightNeed:
    """A weight file a stage of a run will load (its classmethod ``weight_needs(config)`` says which):
    what it is, its registry entry (None: nothing to download, a path must be given), the path given
    for it, and the option that gives one."""

    role: str  # e.g. "SAM2 checkpoint (sam2.1_hiera_t)"
    name: Optional[str]
    given: Optional[str]
    option: str  # e.g. "--sam2-checkpoint PATH", "--option dino_weights=PATH"

    def problem(self, directory: Optional[str] = None) -> Optional[str]:
        """Why the file cannot be loaded (one line naming the fix), or None when it is there."""
        if self.given:
            return None if os.path.exists(self.given) else f"{self.role}: {self.given} not found (given by {self.option})"
        if self.name is None:
            return f"{self.role}: no file to download for it; give one with {self.option}"
        path = weight_path(self.name, directory)
        if path.exists():
            return None
        where = f" --dir {directory}" if directory else ""
        return f"{self.role}: not at {path} (`motionseg-trt download --only {self.name}{where}`, or {self.option})"


def check_weights(needs: list[WeightNeed], directory: Optional[str] = None) -> None:
    """Every missing file in one :class:`ModelFileError`, each with the command or option that
    supplies it (a run that needs five files should not fail five times)."""
    problems = [p for p in (need.problem(directory) for need in needs) if p]
    if not problems:
        return
    if len(problems) == 1:
        raise ModelFileError(f"model file missing: {problems[0]}")
    names = [n.name for n in needs if n.name and not n.given and n.problem(directory)]
    where = f" --dir {directory}" if directory else ""
    every = (f"; all {len(names)} at once: `motionseg-trt download{where} " + " ".join(f"--only {n}" for n in names)
             + "`") if len(names) > 1 else ""
    # one line, items separated by "; ": errors are one line on stderr (cli.main)
    raise ModelFileError(f"{len(problems)} model files missing: " + "; ".join(problems) + every)
