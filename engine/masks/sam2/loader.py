"""Builds SAM2 / SAM2.1 models from the ``sam2`` package's own hydra configs.

Config names: ``sam2.1_hiera_t`` (default), ``sam2.1_hiera_s``, ``sam2.1_hiera_b+``, ``sam2.1_hiera_l``
and the SAM2 (1.0) ``sam2_hiera_*`` ones; a config path such as ``configs/sam2.1/sam2.1_hiera_t.yaml``
is accepted as is. Checkpoints are the official ``.pt`` files (``{"model": state_dict}``); without
one the model is randomly initialised (tests, benchmarks of speed). ``image_size`` overrides the
config's 1024 (SAM2's positional embeddings interpolate; used to keep CPU tests small).
"""
from __future__ import annotations

import os
from typing import Optional

from ...errors import ModelFileError, UnavailableError

SAM2_CONFIGS = {
    "sam2.1_hiera_t": "configs/sam2.1/sam2.1_hiera_t.yaml",
    "sam2.1_hiera_s": "configs/sam2.1/sam2.1_hiera_s.yaml",
    "sam2.1_hiera_b+": "configs/sam2.1/sam2.1_hiera_b+.yaml",
    "sam2.1_hiera_l": "configs/sam2.1/sam2.1_hiera_l.yaml",
    "sam2_hiera_t": "configs/sam2/sam2_hiera_t.yaml",
    "sam2_hiera_s": "configs/sam2/sam2_hiera_s.yaml",
    "sam2_hiera_b+": "configs/sam2/sam2_hiera_b+.yaml",
    "sam2_hiera_l": "configs/sam2/sam2_hiera_l.yaml",
}
def config_path(name: str) -> str:
    if name in SAM2_CONFIGS:
        return SAM2_CONFIGS[name]
    if name.endswith(".yaml") and name.startswith("configs/"):
        return name
    raise ModelFileError(f"unknown SAM2 config {name!r}; choose one of {sorted(SAM2_CONFIGS)}")


def import_sam2():
    """Import ``sam2.build_sam`` (after making a broken torchvision importable, see the shim)."""
    from ._torchvision_shim import ensure_torchvision_importable

    ensure_torchvision_importable()
    try:
        from sam2 import build_sam
    except ImportError as exc:
        raise UnavailableError(
            "the sam2 package is not installed: SAM2_BUILD_CUDA=0 pip install --no-build-isolation "
            f"--no-deps sam2 (after hydra-core, iopath) ({exc})") from exc
    return build_sam


def _overrides(image_size: Optional[int]) -> list[str]:
    if not image_size:
        return []
    if image_size % 16:
        raise ValueError(f"SAM2 image_size must be a multiple of 16, got {image_size}")
    grid = image_size // 16
    # RoPE tables of the memory attention are sized for the stride-16 grid (they would be rebuilt
    # lazily anyway; setting them keeps the module state consistent with the image size)
    return [f"++model.image_size={image_size}",
            f"++model.memory_attention.layer.self_attention.feat_sizes=[{grid},{grid}]",
            f"++model.memory_attention.layer.cross_attention.feat_sizes=[{grid},{grid}]"]


def load_checkpoint(model, checkpoint: str) -> None:
    """Strictly load an official SAM2 ``.pt`` (``{"model": state_dict}``) or a bare state dict."""
    import torch

    if not os.path.isfile(checkpoint):
        raise ModelFileError(f"SAM2 checkpoint not found: {checkpoint}")
    if os.path.getsize(checkpoint) == 0:
        raise ModelFileError(f"SAM2 checkpoint {checkpoint} is empty (0 bytes): an interrupted download or copy?")
    try:
        # weights_only: a pickle that would run code is refused (there is no opt-in here)
        blob = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's file problem
        from ...state_dict import _first_line

        raise ModelFileError(f"cannot read SAM2 checkpoint {checkpoint}: {_first_line(exc)}") from None
    state = blob.get("model", blob) if isinstance(blob, dict) else None
    if not isinstance(state, dict):
        raise ModelFileError(f"{checkpoint} is not a SAM2 checkpoint (expected a dict with key 'model')")
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ModelFileError(
            f"{checkpoint} does not match this SAM2 config: {len(result.missing_keys)} missing keys "
            f"(e.g. {result.missing_keys[:3]}), {len(result.unexpected_keys)} unexpected "
            f"(e.g. {result.unexpected_keys[:3]}); pass the matching --sam2-config")


def build_sam2_video_model(name: str = "sam2.1_hiera_t", checkpoint: Optional[str] = None, *,
                           device: str = "cpu", image_size: Optional[int] = None, seed: int = 0):
    """A ``sam2.sam2_video_predictor.SAM2VideoPredictor`` in eval mode, with the official video
    post-processing settings (the ones ``build_sam2_video_predictor`` applies)."""
    import torch

    build_sam = import_sam2()
    cfg = config_path(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # random init is reproducible (tests, parity)
        model = build_sam.build_sam2_video_predictor(cfg, ckpt_path=None, device="cpu",
                                                     hydra_overrides_extra=_overrides(image_size))
    if checkpoint:
        load_checkpoint(model, checkpoint)
    _float_memory_inputs(model.memory_attention)
    return model.to(device).eval()


def _float_memory_inputs(memory_attention) -> None:
    """sam2's video predictor stores memories in bfloat16 and relies on CUDA autocast to mix them with
    float32 weights. Without autocast (CPU, or CUDA without it) the memory attention receives bfloat16
    memory whenever no float32 object pointer is concatenated to it (e.g. a frame before an object's
    only prompt, tracked forward) and fails. Cast its inputs to the weights' dtype instead; the
    bfloat16 rounding of the stored memories is kept, as on GPU."""
    import torch

    def cast(_module, args, kwargs):
        dtype = next(memory_attention.parameters()).dtype

        def fix(v):
            if torch.is_tensor(v) and v.is_floating_point() and v.dtype != dtype:
                return v.to(dtype)
            if isinstance(v, list):
                return [fix(x) for x in v]
            return v

        return tuple(fix(a) for a in args), {k: fix(v) for k, v in kwargs.items()}

    memory_attention.register_forward_pre_hook(cast, with_kwargs=True)


def resolve_checkpoint(config) -> Optional[str]:
    """The SAM2 checkpoint a run uses: ``--sam2-checkpoint``, else the downloaded one for
    ``--sam2-config`` (``motionseg-trt download``); None only with option ``random_weights`` (tests,
    speed benchmarks), never silently."""
    from ...options import ENGINE_OPTIONS, read_option

    if config.sam2_checkpoint:
        if not os.path.isfile(config.sam2_checkpoint):
            raise ModelFileError(f"SAM2 checkpoint not found: {config.sam2_checkpoint}")
        from ...download import verify_on_use

        verify_on_use(config.sam2_checkpoint)  # when a checksum was recorded beside it
        return config.sam2_checkpoint
    if read_option(config, ENGINE_OPTIONS, "random_weights"):
        return None
    from ...official_weights import SAM2_WEIGHTS, resolve_weight

    if config.sam2_config not in SAM2_WEIGHTS:
        raise ModelFileError(f"no downloadable checkpoint for SAM2 config {config.sam2_config!r}; "
                             "pass --sam2-checkpoint PATH")
    return resolve_weight(SAM2_WEIGHTS[config.sam2_config], None, config.weights_dir)


def write_random_checkpoint(path: str, name: str = "sam2.1_hiera_t", *, image_size: Optional[int] = None,
                            seed: int = 0) -> str:
    """Save a randomly initialised model in the official checkpoint layout (for tests)."""
    import torch

    model = build_sam2_video_model(name, None, image_size=image_size, seed=seed)
    torch.save({"model": model.state_dict()}, path)
    return path
