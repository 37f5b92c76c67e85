"""The trajectory classifier's architecture switches. Kept apart from ``modeling`` (and free of torch)
so that a run that only executes an exported graph can describe the network without importing
PyTorch."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ClassifierConfig:
    """Architecture switches. Defaults are the released checkpoint's (``configs/example_train.yaml``)."""

    use_dino: bool = True
    dino_dim: int = 768
    use_depth: bool = True
    use_visibility_confidence: bool = True  # official "extra_info"
    n_freq_bands: int = 10
    # motion encoder (joint_encoder.*)
    motion_dim: int = 16
    motion_heads: int = 4
    motion_ffn: int = 64
    motion_enc_layers: int = 2
    motion_dec_layers: int = 2
    # head (decoder.*, "TransformerPointNet")
    head_dim: int = 128
    head_heads: int = 8
    head_ffn: int = 512
    head_enc_blocks: int = 4
    head_dec_blocks: int = 4
    layer_norm_eps: float = 1e-5
    dropout: float = 0.1  # active only in train mode (where the official code has it)

    @property
    def in_channels(self) -> int:
        from .features import feature_channels  # torch: only the module needs it

        return feature_channels(self.n_freq_bands, self.use_depth, self.use_visibility_confidence)

    @property
    def input_names(self) -> list[str]:
        """Names (and order) of the network's tensor inputs for this configuration."""
        names = ["traj", "mask"]
        if self.use_depth:
            names.append("depth")
        if self.use_visibility_confidence:
            names += ["visib_value", "confi_value"]
        if self.use_dino:
            names.append("dino")
        return names

    @property
    def head_dino_dim(self) -> int:
        return self.dino_dim if self.use_dino else 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ClassifierConfig":
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown ClassifierConfig fields: {sorted(unknown)}")
        return cls(**d)
