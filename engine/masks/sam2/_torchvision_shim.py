"""Makes a *broken* torchvision importable so that the ``sam2`` package (and transformers) load.

Why this exists: PyPI's torchvision wheels are built against one exact torch release. Beside another
torch (here the CPU build of 2.13.0) its compiled ``torchvision._C`` fails to load, and then
``torchvision/_meta_registrations.py`` dies at import time on
``@torch.library.register_fake("torchvision::nms")`` with
``RuntimeError: operator torchvision::nms does not exist``. Only the *schemas* of the operators that
module decorates unconditionally are missing (the rest of its registrations are skipped when the
extension did not load), so declaring ``torchvision::nms`` and ``torchvision::qnms`` lets the import
finish. Nothing here gives them a kernel: calling ``torchvision.ops.nms`` still fails loudly, and
our SAM2 path never calls it.

What sam2 actually needs: ``sam2.build_sam`` and ``sam2.sam2_video_predictor`` (all this project uses)
import no torchvision at all; only ``sam2.sam2_image_predictor`` / ``sam2.utils.transforms`` and the
automatic mask generator do. So:

* torchvision absent   -> nothing to do, the video predictor path works;
* torchvision healthy  -> nothing to do;
* torchvision broken   -> declare the two schemas, drop the half-imported modules, import again.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library = None  # keeps the torch.library.Library alive (its definitions die with it)
_state: str | None = None


def _declare_schemas() -> None:
    global _library
    import torch

    if _library is None:
        _library = torch.library.Library("torchvision", "DEF")  # noqa: TOR901 - schemas only
    for schema in _SCHEMAS:
        name = schema.split("(", 1)[0]
        try:
            getattr(torch.ops.torchvision, name)
            continue  # already there (a healthy extension or an earlier call)
        except (AttributeError, RuntimeError):
            pass
        _library.define(schema)


def ensure_torchvision_importable() -> str:
    """Return ``"absent"``, ``"ok"`` or ``"shimmed"``; idempotent and cheap after the first call."""
    global _state
    if _state is not None:
        return _state
    if importlib.util.find_spec("torchvision") is None:
        _state = "absent"
        return _state
    try:
        importlib.import_module("torchvision")
        _state = "ok"
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
        for mod in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[mod]
        _declare_schemas()
        importlib.import_module("torchvision")
        _state = "shimmed"
    return _state
