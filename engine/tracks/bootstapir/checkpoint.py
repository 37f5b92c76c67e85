"""Loading BootsTAPIR weights: the official ``bootstapir_checkpoint_v2.pt`` or a safetensors copy.

The official file is a plain PyTorch state dict of the public TAPIR torch model (218 tensors), read by
:func:`motionseg_trt.state_dict.read_state_dict` (which unwraps ``{"state_dict": ...}``, ``{"model":
...}`` and a DataParallel ``module.`` prefix). Any mismatch is reported as :class:`~motionseg_trt.errors.ModelFileError` naming the missing,
unexpected and wrongly-shaped keys, never as a PyTorch traceback.
"""
from __future__ import annotations

import os
from typing import Mapping

from ...errors import ModelFileError

OFFICIAL_FILENAME = "bootstapir_checkpoint_v2.pt"
_LIST_LIMIT = 8


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

    from ...state_dict import read_state_dict

    model = build_bootstapir()
    load_state_dict_into(model, read_state_dict(path, "BootsTAPIR checkpoint")[0], source=str(path))
    return model.eval()


def save_safetensors(model, path: str | os.PathLike) -> None:
    """Write a model's weights as safetensors (loads back with :func:`load_bootstapir`)."""
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(path))
