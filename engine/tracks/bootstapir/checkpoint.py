"""Loading BootsTAPIR weights: the official ``bootstapir_checkpoint_v2.pt`` or a safetensors copy.

The official file is a plain PyTorch state dict of the public TAPIR torch model (218 tensors). Common
wrappers (``{"state_dict": ...}``, ``{"model": ...}``, a DataParallel ``module.`` prefix) are unwrapped.
Any mismatch is reported as :class:`~motionseg_trt.errors.ModelFileError` naming the missing,
unexpected and wrongly-shaped keys, never as a PyTorch traceback.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from ...errors import ModelFileError

OFFICIAL_FILENAME = "bootstapir_checkpoint_v2.pt"
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "params")
_LIST_LIMIT = 8


def read_state_dict(path: str | os.PathLike) -> dict:
    """``{key: tensor}`` from a ``.pt``/``.pth`` (loaded with ``weights_only=True``) or ``.safetensors``."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"BootsTAPIR checkpoint not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(path))
        else:
            sd = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt / truncated / not a checkpoint
        raise ModelFileError(f"cannot read BootsTAPIR checkpoint {path}: {exc}") from exc
    return _unwrap(sd, str(path))


def _unwrap(sd, source: str) -> dict:
    import torch

    for _ in range(3):
        if isinstance(sd, Mapping) and not any(isinstance(v, torch.Tensor) for v in sd.values()):
            inner = next((sd[k] for k in _WRAPPER_KEYS if k in sd and isinstance(sd[k], Mapping)), None)
            if inner is None:
                break
            sd = inner
    if not isinstance(sd, Mapping):
        raise ModelFileError(f"{source}: expected a state dict (mapping of tensors), got {type(sd).__name__}")
    out = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            continue
        out[k[len("module."):] if k.startswith("module.") else k] = v
    return out


def _fmt(keys) -> str:
    keys = list(keys)
    more = f" ... (+{len(keys) - _LIST_LIMIT} more)" if len(keys) > _LIST_LIMIT else ""
    return ", ".join(keys[:_LIST_LIMIT]) + more


def check_state_dict(model, sd: Mapping, source: str = "checkpoint") -> None:
    """Raise ModelFileError unless ``sd`` has exactly the model's keys and shapes."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    wrong = [f"{k} {tuple(sd[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if k in sd and tuple(sd[k].shape) != tuple(v.shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s): {_fmt(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {_fmt(unexpected)}")
        if wrong:
            parts.append(f"{len(wrong)} shape mismatch(es): {_fmt(wrong)}")
        raise ModelFileError(f"{source} is not a BootsTAPIR (TAPIR pyramid_level=1) state dict: "
                             + "; ".join(parts))


def load_state_dict_into(model, sd: Mapping, source: str = "checkpoint"):
    """Check, then copy ``sd`` into ``model`` (float32). Returns the model."""
    check_state_dict(model, sd, source)
    model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    return model


def load_bootstapir(path: str | os.PathLike):
    """A :class:`~.modeling.TAPIR` in eval mode with the weights of ``path``."""
    from .modeling import build_bootstapir

    model = build_bootstapir()
    load_state_dict_into(model, read_state_dict(path), source=str(path))
    return model.eval()


def save_safetensors(model, path: str | os.PathLike) -> None:
    """Write a model's weights as safetensors (loads back with :func:`read_state_dict`)."""
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(path))
