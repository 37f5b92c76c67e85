"""Loading classifier weights: the official ``moseg.pth`` (entry ``model_state_dict``), plain state
dicts saved by ``torch.save`` and safetensors files (ours carry the architecture in their metadata),
read by :func:`motionseg_trt.state_dict.read_state_dict`.

Every failure is a :class:`~motionseg_trt.errors.ModelFileError` (exit code 5) that names the file and,
for a mismatch, the missing, unexpected and wrong-shape keys.
"""
from __future__ import annotations

import json
import os
from typing import Mapping, Optional

from ...errors import ModelFileError

CONFIG_METADATA_KEY = "classifier_config"
_LIST_LIMIT = 12


def _fmt(keys, limit: int = _LIST_LIMIT) -> str:
    keys = sorted(keys)
    more = f" ... (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def check_state_dict(expected: Mapping, given: Mapping, source: str = "checkpoint") -> None:
    """Raise :class:`ModelFileError` naming missing / unexpected / wrong-shape keys, if any."""
    missing = set(expected) - set(given)
    unexpected = set(given) - set(expected)
    wrong = [f"{k} {tuple(given[k].shape)} != expected {tuple(expected[k].shape)}"
             for k in sorted(set(expected) & set(given)) if tuple(given[k].shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or wrong):
        return
    parts = [f"{source} does not match the classifier architecture"]
    if missing:
        parts.append(f"missing keys ({len(missing)}): {_fmt(missing)}")
    if unexpected:
        parts.append(f"unexpected keys ({len(unexpected)}): {_fmt(unexpected)}")
    if wrong:
        more = f" ... (+{len(wrong) - _LIST_LIMIT} more)" if len(wrong) > _LIST_LIMIT else ""
        parts.append(f"wrong shapes ({len(wrong)}): " + "; ".join(wrong[:_LIST_LIMIT]) + more)
    raise ModelFileError(". ".join(parts))


def infer_config(sd: Mapping, metadata: Optional[Mapping] = None):
    """The ``ClassifierConfig`` of a state dict: from our safetensors metadata when present, else from the
    tensor shapes (official checkpoints). Raises ModelFileError when the shapes are ambiguous."""
    from .modeling import ClassifierConfig

    if metadata and CONFIG_METADATA_KEY in metadata:
        try:
            return ClassifierConfig.from_dict(json.loads(metadata[CONFIG_METADATA_KEY]))
        except (ValueError, TypeError) as exc:
            raise ModelFileError(f"bad classifier config in the file's metadata: {exc}") from None
    try:
        w1 = sd["joint_encoder.input_fc1.weight"]
        emb = sd["decoder.embedding.embedding.weight"]
        enc_ffn0 = sd["decoder.encoders.0.ffn.0.weight"]
    except KeyError as exc:
        raise ModelFileError(f"not a trajectory-classifier state dict (no {exc.args[0]})") from None
    base = ClassifierConfig()
    extra = int(w1.shape[1]) - 4 * (1 + 2 * base.n_freq_bands)
    if extra not in (0, 2, 4):
        raise ModelFileError(f"unsupported classifier input width {w1.shape[1]} (88 = official)")
    if extra == 2:
        raise ModelFileError("classifier input width 86 is ambiguous (depth or visibility/confidence); "
                             "use a file that carries its config")
    head_dim = int(emb.shape[0])

    def count(prefix: str) -> int:
        return len({k.split(".")[2] for k in sd if k.startswith(prefix)})

    dino_dim = int(enc_ffn0.shape[1]) - head_dim
    return ClassifierConfig(
        use_dino=dino_dim > 0, dino_dim=dino_dim if dino_dim > 0 else base.dino_dim,
        use_depth=extra == 4, use_visibility_confidence=extra == 4,
        motion_dim=int(w1.shape[0]), motion_ffn=int(sd["joint_encoder.transformer_model.encoder.layers.0.linear1.weight"].shape[0]),
        motion_enc_layers=len({k.split(".")[4] for k in sd if k.startswith("joint_encoder.transformer_model.encoder.layers.")}),
        motion_dec_layers=len({k.split(".")[4] for k in sd if k.startswith("joint_encoder.transformer_model.decoder.layers.")}),
        head_dim=head_dim, head_ffn=int(enc_ffn0.shape[0]),
        head_enc_blocks=count("decoder.encoders."), head_dec_blocks=count("decoder.decoders."),
        # head counts are not in the weights; the official values are assumed for shape-inferred files
        motion_heads=base.motion_heads, head_heads=base.head_heads)


def load_classifier(path: str, config=None):
    """Build a :class:`TrajectoryClassifier` for ``path`` and load its weights (strictly), in eval mode.

    ``config`` None: taken from the file (metadata, else inferred from shapes; the official checkpoint
    gives the official config)."""
    from .modeling import TrajectoryClassifier

    from ...state_dict import read_state_dict

    sd, metadata = read_state_dict(path, "classifier checkpoint")
    cfg = config if config is not None else infer_config(sd, metadata)
    model = TrajectoryClassifier(cfg)
    check_state_dict(model.state_dict(), sd, source=os.fspath(path))
    model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    return model.eval()


def save_classifier(model, path: str, extra_metadata: Optional[Mapping[str, str]] = None) -> None:
    """Save weights as safetensors with the architecture in the metadata (what :func:`load_classifier`
    reads back without being told the config)."""
    from safetensors.torch import save_file

    meta = {CONFIG_METADATA_KEY: json.dumps(model.config.to_dict())}
    meta.update(extra_metadata or {})
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, os.fspath(path),
              metadata=meta)
