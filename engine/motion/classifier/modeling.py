"""The SegAnyMo per-track motion classifier (``traj_oa_depth``), our own code, state-dict compatible.

With ``ClassifierConfig()`` (the defaults) the module's ``state_dict`` has exactly the 200 keys and
shapes of the released ``moseg.pth`` (entry ``model_state_dict``) and gives the official outputs
(as the golden fixture's specification of the official code describes it). Other configurations (no DINO, no depth, other
widths) reuse the same code for our own trained weights.

Interface (everything batched, channel-last, float32)::

    from motionseg_trt.motion.classifier.modeling import ClassifierConfig, TrajectoryClassifier
    model = TrajectoryClassifier(ClassifierConfig(use_dino=False, use_depth=False)).eval()
    logits = model(traj, mask, depth=None, visib_value=vv, confi_value=cv, dino=None)  # [B, N]
    prob = torch.sigmoid(logits)

    traj         [B, N, T, 2]  normalised (x, y) in [-1, 1]           (preprocess.normalise_coords)
    mask         [B, N, T]     float, 1.0 = point NOT visible, 0.0 = visible
    depth        [B, N, T]     depth sampled at the track points      (preprocess.sample_depth)
                               required iff config.use_depth
    visib_value  [B, N, T]     soft visibility   } required iff config.use_visibility_confidence
    confi_value  [B, N, T]     gated confidence  }
    dino         [B, N, Cd]    one descriptor per track, Cd = config.dino_dim; required iff use_dino
    track_pad    [B, N] bool   optional, True = padding track (for batches of clips with different N):
                               such tracks are never attended to. Not part of the official model.

Every track spans all T frames. Batch items are independent (B = 1 is the official case). The
official code can NaN when a frame has no visible track; preprocessing guarantees one, and this
implementation uses a finite mask value so such a row degrades to uniform attention instead of NaN.

Attention in exported graphs is plain MatMul-Add(mask bias)-Softmax-MatMul (what TensorRT fuses into
one attention kernel); eager PyTorch uses the fused ``F.scaled_dot_product_attention`` by default, or the
explicit form in slices (``set_attention_impl("math")``, closest to the official numbers).
"""
from __future__ import annotations

import contextlib
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .config import ClassifierConfig  # noqa: F401  (the module's switches; importable without torch)
from .features import build_track_features


def mask_bias(pad: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive attention bias from a boolean key-padding mask: 0 where kept, a very negative finite
    value where padded. It equals -inf wherever a row keeps at least one key (exp underflows to exactly
    0), and gives uniform weights instead of NaN when a row keeps none."""
    neg = -torch.finfo(dtype).max / 2  # half the range: adding a score can never overflow to -inf
    # a select, not pad * neg: if a float16 engine rounds neg to -inf, 0 * -inf would be NaN everywhere
    return torch.where(pad, torch.tensor(neg, dtype=dtype, device=pad.device),
                       torch.tensor(0.0, dtype=dtype, device=pad.device))


# Largest attention-weight tensor (elements) materialised at once in eager mode. Across-track attention
# holds [T * heads, N, N] weights (12.8 GB at N=5000, T=32), so eager mode runs it in slices of frames.
ATTENTION_CHUNK_ELEMENTS = 1 << 26


def _attention_math(q, k, v, bias, dropout_p: float = 0.0):
    # q is scaled before the product, as torch.nn.MultiheadAttention does: closest to the official numbers
    scores = (q * (1.0 / math.sqrt(q.shape[-1]))) @ k.transpose(-2, -1)
    if bias is not None:
        scores = scores + bias
    weights = torch.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, dropout_p)
    return weights @ v


def _exporting() -> bool:
    # torch.export (what the ONNX export uses) sets is_exporting; older torch only has is_compiling
    exporting = getattr(torch.compiler, "is_exporting", torch.compiler.is_compiling)
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or exporting()


ATTENTION_IMPLS = ("sdpa", "math")
_eager_impl = "sdpa"


def set_attention_impl(name: str) -> str:
    """Choose how eager PyTorch evaluates attention; returns the previous choice.

    ``sdpa`` (default): ``F.scaled_dot_product_attention``, a fused kernel that never holds the
    ``[N, N]`` weights (fast, little memory). ``math``: the explicit product, softmax and product in
    slices, as ``torch.nn.MultiheadAttention`` computes it: the closest to the official float32 numbers
    (the parity tool uses it). Exported graphs always contain the explicit form.
    """
    global _eager_impl
    if name not in ATTENTION_IMPLS:
        raise ValueError(f"attention implementation must be one of {ATTENTION_IMPLS}")
    previous, _eager_impl = _eager_impl, name
    return previous


@contextlib.contextmanager
def attention_impl(name: str):
    previous = set_attention_impl(name)
    try:
        yield
    finally:
        set_attention_impl(previous)


def scaled_dot_product_attention(q, k, v, bias=None, dropout_p: float = 0.0):
    """``softmax(q k^T / sqrt(dh) + bias) v`` for ``q [L, h, S, dh]``, ``k, v [L, h, S', dh]``,
    ``bias [L, 1, 1, S']`` or None.

    Exported: plain MatMul-Add-Softmax-MatMul (the pattern TensorRT fuses into one attention kernel).
    Eager: see :func:`set_attention_impl`; the ``math`` form runs in slices of L so that memory stays
    bounded for many tracks (the slices give the same numbers as one call).
    """
    if _exporting():
        return _attention_math(q, k, v, bias, dropout_p)
    if _eager_impl == "sdpa":
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p)
    per_item = q.shape[1] * q.shape[2] * k.shape[2]
    step = max(1, ATTENTION_CHUNK_ELEMENTS // max(per_item, 1))
    if step >= q.shape[0]:
        return _attention_math(q, k, v, bias, dropout_p)
    return torch.cat([_attention_math(q[i:i + step], k[i:i + step], v[i:i + step],
                                      None if bias is None else bias[i:i + step], dropout_p)
                      for i in range(0, q.shape[0], step)])


class MultiheadAttention(nn.Module):
    """``nn.MultiheadAttention``-compatible parameters (``in_proj_weight``/``in_proj_bias``/``out_proj``),
    batch-first tensors ``[L, S, d]`` and an optional additive key bias ``[L, S]``."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.dim, self.heads, self.dropout = dim, heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # as torch.nn.MultiheadAttention, so that training from scratch starts where the official did
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def _split(self, x: torch.Tensor) -> torch.Tensor:  # [L, S, d] -> [L, h, S, d/h]
        return x.unflatten(-1, (self.heads, self.dim // self.heads)).transpose(1, 2)

    def forward(self, query: torch.Tensor, key_value: Optional[torch.Tensor] = None,
                key_bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        if key_value is None:  # self-attention: one projection for q, k and v
            q, k, v = F.linear(query, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        else:
            w_q, w_kv = self.in_proj_weight.split((self.dim, 2 * self.dim))
            b_q, b_kv = self.in_proj_bias.split((self.dim, 2 * self.dim))
            q = F.linear(query, w_q, b_q)
            k, v = F.linear(key_value, w_kv, b_kv).chunk(2, dim=-1)
        bias = None if key_bias is None else key_bias[:, None, None, :]
        out = scaled_dot_product_attention(self._split(q), self._split(k), self._split(v), bias,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(out.transpose(1, 2).flatten(-2))


class _FeedForward(nn.Module):
    """linear2(dropout(ReLU(linear1(x)))) with the motion transformer's parameter names."""

    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.linear1 = nn.Linear(dim, hidden)
        self.linear2 = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def ff(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(F.relu(self.linear1(x))))


def _time_major(z: torch.Tensor) -> torch.Tensor:  # [B, T, N, d] -> [B*N, T, d]
    return z.transpose(1, 2).flatten(0, 1)


def _from_time_major(z: torch.Tensor, b: int) -> torch.Tensor:  # [B*N, T, d] -> [B, T, N, d]
    return z.unflatten(0, (b, -1)).transpose(1, 2)


class _AxisAttention:
    """Self-attention along time (per track) then across tracks (per frame), sharing one module."""

    @staticmethod
    def along_time(attn: MultiheadAttention, z: torch.Tensor, time_bias: torch.Tensor) -> torch.Tensor:
        b = z.shape[0]
        return _from_time_major(attn(_time_major(z), key_bias=time_bias), b)

    @staticmethod
    def across_tracks(attn: MultiheadAttention, z: torch.Tensor, track_bias: torch.Tensor) -> torch.Tensor:
        return attn(z.flatten(0, 1), key_bias=track_bias).unflatten(0, z.shape[:2])


class MotionEncoderLayer(_FeedForward):
    """Post-norm: time attention -> norm1, track attention -> norm3, FFN -> norm2."""

    def __init__(self, dim: int, heads: int, hidden: int, eps: float, dropout: float):
        super().__init__(dim, hidden, dropout)
        self.self_attn = MultiheadAttention(dim, heads, dropout)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(dim, eps=eps) for _ in range(3))
        self.dropout1, self.dropout2, self.dropout3 = (nn.Dropout(dropout) for _ in range(3))

    def forward(self, z, time_bias, track_bias):
        z = self.norm1(z + self.dropout1(_AxisAttention.along_time(self.self_attn, z, time_bias)))
        z = self.norm3(z + self.dropout3(_AxisAttention.across_tracks(self.self_attn, z, track_bias)))
        return self.norm2(z + self.dropout2(self.ff(z)))


class MotionDecoderLayer(_FeedForward):
    """Post-norm: time attention -> norm1, track attention -> norm4, unmasked cross-attention over the
    same track's memory frames -> norm2, FFN -> norm3."""

    def __init__(self, dim: int, heads: int, hidden: int, eps: float, dropout: float):
        super().__init__(dim, hidden, dropout)
        self.self_attn = MultiheadAttention(dim, heads, dropout)
        self.multihead_attn = MultiheadAttention(dim, heads, dropout)
        self.norm1, self.norm2, self.norm3, self.norm4 = (nn.LayerNorm(dim, eps=eps) for _ in range(4))
        self.dropout1, self.dropout2, self.dropout3, self.dropout4 = (nn.Dropout(dropout) for _ in range(4))

    def forward(self, y, memory, time_bias, track_bias):
        b = y.shape[0]
        y = self.norm1(y + self.dropout1(_AxisAttention.along_time(self.self_attn, y, time_bias)))
        y = self.norm4(y + self.dropout4(_AxisAttention.across_tracks(self.self_attn, y, track_bias)))
        cross = self.multihead_attn(_time_major(y), _time_major(memory))
        y = self.norm2(y + self.dropout2(_from_time_major(cross, b)))
        return self.norm3(y + self.dropout3(self.ff(y)))


class _Stack(nn.Module):
    def __init__(self, layers: list[nn.Module], dim: int, eps: float):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(dim, eps=eps)


class MotionTransformer(nn.Module):
    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        d, h, f, e, p = cfg.motion_dim, cfg.motion_heads, cfg.motion_ffn, cfg.layer_norm_eps, cfg.dropout
        self.encoder = _Stack([MotionEncoderLayer(d, h, f, e, p) for _ in range(cfg.motion_enc_layers)], d, e)
        self.decoder = _Stack([MotionDecoderLayer(d, h, f, e, p) for _ in range(cfg.motion_dec_layers)], d, e)

    def forward(self, x, time_bias, track_bias, capture: Optional[dict] = None):
        z = x
        for i, layer in enumerate(self.encoder.layers):
            z = layer(z, time_bias, track_bias)
            _put(capture, f"motion_enc_layer{i}", z)
        memory = self.encoder.norm(z)
        _put(capture, "motion_memory", memory)
        y = x  # the decoder starts from the projected tokens, not from the memory (official)
        for i, layer in enumerate(self.decoder.layers):
            y = layer(y, memory, time_bias, track_bias)
            _put(capture, f"motion_dec_layer{i}", y)
        out = self.decoder.norm(y)
        _put(capture, "motion_tokens", out)
        return out


class MotionEncoder(nn.Module):
    """``joint_encoder.*``: point-wise projection, motion transformer, max-pool over time."""

    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        # 1x1 convolutions in the checkpoint; applied as matmuls on channel-last features
        self.input_fc1 = nn.Conv2d(cfg.in_channels, cfg.motion_dim, 1)
        self.fc2 = nn.Conv2d(cfg.motion_dim, cfg.motion_dim, 1)
        self.transformer_model = MotionTransformer(cfg)

    def forward(self, feats: torch.Tensor, pad: torch.Tensor, track_pad: Optional[torch.Tensor] = None,
                capture: Optional[dict] = None) -> torch.Tensor:
        """feats ``[B, N, T, C]``, pad ``[B, N, T]`` bool (True = not visible) -> ``[B, N, d]``."""
        h = F.relu(F.linear(feats, self.input_fc1.weight.flatten(1), self.input_fc1.bias))
        h = F.relu(F.linear(h, self.fc2.weight.flatten(1), self.fc2.bias))  # [B, N, T, d]
        _put(capture, "encoder_proj", h)
        # a track padded in every frame keeps frame 0 (official fallback; never fires after preprocessing)
        # (a mask with the first frame, not slicing: slices put guards on T-1 in torch.export)
        first = torch.arange(pad.shape[-1], device=pad.device) == 0
        pad = pad & ~(pad.all(dim=-1, keepdim=True) & first)
        time_bias = mask_bias(pad.flatten(0, 1), h.dtype)  # [B*N, T]
        track_pad_t = pad.transpose(1, 2)  # [B, T, N]
        if track_pad is not None:
            track_pad_t = track_pad_t | track_pad[:, None, :]
        track_bias = mask_bias(track_pad_t.flatten(0, 1), h.dtype)  # [B*T, N]
        tokens = self.transformer_model(h.transpose(1, 2), time_bias, track_bias, capture)  # [B, T, N, d]
        return tokens.amax(dim=1)  # max over all frames, invisible ones included (official)


class HeadEmbedding(nn.Module):
    def __init__(self, in_dim: int, dim: int):
        super().__init__()
        self.embedding = nn.Linear(in_dim, dim)

    def forward(self, x):
        return self.embedding(x)


def _head_ffn(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))


class HeadEncoderBlock(nn.Module):
    """Track self-attention on motion tokens only; DINO enters the first FFN linear, after the tokens."""

    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        d = cfg.head_dim
        self.attention = MultiheadAttention(d, cfg.head_heads, cfg.dropout)
        self.ffn = _head_ffn(d + cfg.head_dino_dim, cfg.head_ffn, d)
        self.norm1 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.norm2 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.dropout1, self.dropout2 = nn.Dropout(cfg.dropout), nn.Dropout(cfg.dropout)

    def forward(self, a, dino, bias):
        a = self.norm1(a + self.dropout1(self.attention(a, key_bias=bias)))
        ffn_in = a if dino is None else torch.cat((a, dino), dim=-1)
        return self.norm2(a + self.dropout2(self.ffn(ffn_in)))


class HeadDecoderBlock(nn.Module):
    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        d, h = cfg.head_dim, cfg.head_heads
        self.self_attention = MultiheadAttention(d, h, cfg.dropout)
        self.cross_attention = MultiheadAttention(d, h, cfg.dropout)
        self.ffn = _head_ffn(d, cfg.head_ffn, d)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d, eps=cfg.layer_norm_eps) for _ in range(3))
        self.dropout1, self.dropout2, self.dropout3 = (nn.Dropout(cfg.dropout) for _ in range(3))

    def forward(self, q, memory, bias):
        q = self.norm1(q + self.dropout1(self.self_attention(q, key_bias=bias)))
        q = self.norm2(q + self.dropout2(self.cross_attention(q, memory, key_bias=bias)))
        return self.norm3(q + self.dropout3(self.ffn(q)))


class TrackHead(nn.Module):
    """``decoder.*``: the official "TransformerPointNet" over the set of tracks (no mask, no positions)."""

    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        self.embedding = HeadEmbedding(cfg.motion_dim, cfg.head_dim)
        self.encoders = nn.ModuleList([HeadEncoderBlock(cfg) for _ in range(cfg.head_enc_blocks)])
        self.decoders = nn.ModuleList([HeadDecoderBlock(cfg) for _ in range(cfg.head_dec_blocks)])
        self.output_layer = nn.Linear(cfg.head_dim, 1)

    def forward(self, g, dino, bias, capture: Optional[dict] = None):
        e = self.embedding(g)
        _put(capture, "head_embed", e)
        a = e
        for i, block in enumerate(self.encoders):
            a = block(a, dino, bias)
            _put(capture, f"head_enc_block{i}", a)
        _put(capture, "head_memory", a)
        q = e  # the decoder's queries start from the embedding, not from the memory (official)
        for i, block in enumerate(self.decoders):
            q = block(q, a, bias)
            _put(capture, f"head_dec_block{i}", q)
        _put(capture, "head_tokens", q)
        return self.output_layer(q).squeeze(-1)


class TrajectoryClassifier(nn.Module):
    """Per-track motion classifier. ``forward(...) -> logits [B, N]``; see the module docstring."""

    def __init__(self, config: Optional[ClassifierConfig] = None):
        super().__init__()
        self.config = config or ClassifierConfig()
        self.joint_encoder = MotionEncoder(self.config)
        self.decoder = TrackHead(self.config)

    @property
    def input_names(self) -> list[str]:
        """Names (and order) of the forward's tensor inputs for this configuration."""
        return self.config.input_names

    def features(self, traj, mask, depth=None, visib_value=None, confi_value=None) -> torch.Tensor:
        """The ``[B, N, T, C]`` per-frame feature (``aug_traj`` of the official code, channel-last)."""
        cfg = self.config
        self._check(depth, cfg.use_depth, "depth", "use_depth")
        self._check(visib_value, cfg.use_visibility_confidence, "visib_value", "use_visibility_confidence")
        self._check(confi_value, cfg.use_visibility_confidence, "confi_value", "use_visibility_confidence")
        return build_track_features(traj, mask, depth, visib_value, confi_value, cfg.n_freq_bands)

    def forward(self, traj: torch.Tensor, mask: torch.Tensor, depth: Optional[torch.Tensor] = None,
                visib_value: Optional[torch.Tensor] = None, confi_value: Optional[torch.Tensor] = None,
                dino: Optional[torch.Tensor] = None, track_pad: Optional[torch.Tensor] = None,
                capture: Optional[dict] = None) -> torch.Tensor:
        """Return logits ``[B, N]``. ``capture``: a dict that receives named intermediates (debugging,
        parity tests); leave None otherwise."""
        self._check(dino, self.config.use_dino, "dino", "use_dino")
        feats = self.features(traj, mask, depth, visib_value, confi_value)
        _put(capture, "aug_traj", feats)
        g = self.joint_encoder(feats, mask > 0.5, track_pad, capture)  # [B, N, d]
        _put(capture, "track_feat", g)
        head_bias = None if track_pad is None else mask_bias(track_pad, g.dtype)
        return self.decoder(g, dino, head_bias, capture)

    @staticmethod
    def _check(value, wanted: bool, name: str, flag: str) -> None:
        if wanted and value is None:
            raise ValueError(f"this classifier has {flag}=True and needs `{name}`")
        if not wanted and value is not None:
            raise ValueError(f"this classifier has {flag}=False; do not pass `{name}`")


class ClassifierGraph(nn.Module):
    """The exported graph's interface around a :class:`TrajectoryClassifier`: positional inputs in
    ``model.input_names`` order -> ``(logits [B, N], prob [B, N])``, float32 at the edges.
    ``half=True`` runs the network in float16 (the fp16 ONNX export)."""

    def __init__(self, model: TrajectoryClassifier, half: bool = False):
        super().__init__()
        self.net = model.half() if half else model
        self.names = list(model.input_names)
        self.half = half

    @property
    def input_names(self) -> list[str]:
        return list(self.names)

    def forward(self, *inputs):
        dtype = torch.float16 if self.half else torch.float32
        logits = self.net(**{n: x.to(dtype) for n, x in zip(self.names, inputs)}).float()
        return logits, torch.sigmoid(logits)


def _put(capture: Optional[dict], name: str, value: torch.Tensor) -> None:
    if capture is not None:
        capture[name] = value


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["ClassifierConfig", "TrajectoryClassifier", "ClassifierGraph", "MultiheadAttention", "mask_bias", "count_parameters",
           "scaled_dot_product_attention", "set_attention_impl", "attention_impl"]
