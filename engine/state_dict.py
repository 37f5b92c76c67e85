"""Reading a network's weights from a file, for every loader (classifier, BootsTAPIR, DINOv2,
Depth-Anything-V2): safetensors or PyTorch checkpoints, with one-line errors.

* safetensors is recognised by its header (whatever the file is called) and keeps its metadata (our
  classifier files carry their architecture there);
* a PyTorch checkpoint is loaded with ``weights_only=True``; ``MOTIONSEG_TRUST_CHECKPOINT=1`` allows
  full unpickling, for files you trust that hold more than tensors;
* a folder stands for its ``model.safetensors`` or ``pytorch_model.bin`` (a transformers checkpoint);
* wrappers (``{"model_state_dict": ...}`` as in the official ``moseg.pth``, ``state_dict``, ``model``,
  ``params``, ``teacher``) are unwrapped, and a DataParallel ``module.`` prefix on every key removed.

Every failure is a :class:`~motionseg_trt.errors.ModelFileError` (exit code 5) naming the file. Whether
the tensors fit a network is the network's loader's check.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from .errors import ModelFileError

TRUST_ENV = "MOTIONSEG_TRUST_CHECKPOINT"
WRAPPER_KEYS = ("model_state_dict", "state_dict", "model", "params", "teacher")
FOLDER_FILES = ("model.safetensors", "pytorch_model.bin")


def is_safetensors(path) -> bool:
    # header: little-endian u64 length, then a JSON object
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < (1 << 31)


def read_state_dict(path, what: str = "checkpoint") -> tuple[dict, dict]:
    """``({name: tensor}, metadata)`` of the weight file ``path`` (``what`` it is, for messages)."""
    path = Path(os.fspath(path))
    if path.is_dir():
        found = [path / name for name in FOLDER_FILES if (path / name).is_file()]
        if not found:
            raise ModelFileError(f"{path}: no {' or '.join(FOLDER_FILES)} in this folder ({what})")
        path = found[0]
    if not path.is_file():
        raise ModelFileError(f"{what} not found: {path}")
    if path.stat().st_size == 0:
        raise ModelFileError(f"{what} {path} is empty (0 bytes): an interrupted download or copy?")
    if is_safetensors(path):
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
        except Exception as exc:  # noqa: BLE001 - any parse failure is a bad file for the user
            raise ModelFileError(f"cannot read {what} {path}: not a readable safetensors file "
                                 f"({_first_line(exc)})") from None
    import torch

    trusted = os.environ.get(TRUST_ENV) == "1"
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=not trusted)
    except Exception as exc:  # noqa: BLE001
        hint = "" if trusted else (f" If it is a PyTorch checkpoint that holds more than tensors and you trust it, "
                                   f"set {TRUST_ENV}=1.")
        raise ModelFileError(f"cannot read {what} {path}: not a PyTorch checkpoint or safetensors file "
                             f"({type(exc).__name__}: {_first_line(exc)}).{hint}") from None
    return tensors_of(obj, f"{what} {path}"), {}


def _first_line(exc: BaseException, limit: int = 200) -> str:
    """The first non-empty line of an exception's message (PyTorch's are paragraphs; some are empty)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:limit]


def tensors_of(obj, source: str = "checkpoint") -> dict:
    """The state dict inside a loaded checkpoint (see the module docstring for the layouts)."""
    import torch

    for _ in range(3):  # {"model": {"state_dict": ...}} and the like
        if isinstance(obj, Mapping) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
            inner = next((obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
            if inner is None:
                break
            obj = inner
    sd = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)} if isinstance(obj, Mapping) else {}
    if not sd:
        raise ModelFileError(f"{source}: no state dict found (a dict of tensors, or one under "
                             f"{', '.join(repr(k) for k in WRAPPER_KEYS)}; the official moseg.pth has "
                             f"'model_state_dict')")
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd
