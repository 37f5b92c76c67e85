"""Training of the embedded trajectory classifier on generated clips.

The network is the paper's (``TrajectoryClassifier``) configured for the embedded stack: no DINO
branch and no depth (the embedded stack has neither), a narrower head so that it trains on a CPU. The
inputs are built by the same preprocessing as at inference (``prepare_from_tracks``), so train and
test see identical features. Loss: class-weighted BCE (positives and negatives weighted to equal total
weight in every batch, as the paper balances its moving/static tracks), AdamW, cosine schedule.
Everything is seeded: the same command gives the same weights on the same machine and thread count.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .data import DataConfig, WindowSample, attach_camera_residuals, build_dataset

# The shipped model's architecture: the paper's motion encoder at its width (16, 4 heads) with one
# encoder and one decoder layer, and a smaller head (width 64, 4 heads, 2+2 blocks), without DINO and
# without depth. Dropout is off: on this data it only slowed training (the attention-weight dropout
# masks dominated CPU time); weight decay regularises instead.
EMBEDDED_MODEL = dict(use_dino=False, use_depth=False, use_visibility_confidence=True,
                      motion_enc_layers=1, motion_dec_layers=1, head_dim=64, head_heads=4, head_ffn=256,
                      head_enc_blocks=2, head_dec_blocks=2, dropout=0.0)

# Seeds of validation clips start here; training clips use 0..train_clips-1 (never overlapping).
VAL_SEED_BASE = 1_000_000


@dataclass
class TrainConfig:
    out: str = "runs/embedded_classifier"
    cache_dir: str = ""  # default: <cache root>/train (motionseg_trt.cache)
    train_clips: int = 400
    train_seeds: str = ""  # e.g. "0-99,150-199" (inclusive ranges); overrides train_clips when given
    val_clips: int = 40
    epochs: int = 16
    batch: int = 4  # windows per step
    tracks: int = 128  # tracks sampled per window per step
    lr: float = 2e-3
    weight_decay: float = 0.01
    seed: int = 0
    threads: int = 1
    model: dict = field(default_factory=lambda: dict(EMBEDDED_MODEL))
    data: DataConfig = field(default_factory=DataConfig)
    max_steps: int = 0  # 0 = epochs * steps per epoch (tests cut it short)
    log_every: int = 50
    eval_every: int = 4  # validate every this many epochs (and after the last)
    threshold: float = 0.6  # selection threshold stored with the weights (best val F1 of the v1 run);
    # < 0: chosen on the validation clips (best F0.5, see choose_threshold)
    # "" or "camera_residual": the depth slot carries the geometric camera-model residual per frame and
    # the geometric logit is added to the model's as a prior (motionseg_trt.motion.residual_features)
    evidence: str = ""


@contextlib.contextmanager
def fused_attention():
    """Run the classifier's attention through ``torch.nn.functional.scaled_dot_product_attention``
    while training: the same function as the exportable MatMul-Softmax-MatMul form (same numbers up
    to float rounding), but a fused CPU kernel that is several times faster in backward."""
    import torch.nn.functional as F

    from motionseg_trt.motion.classifier import modeling

    def sdpa(q, k, v, bias=None, dropout_p: float = 0.0):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p)

    original = modeling.scaled_dot_product_attention
    modeling.scaled_dot_product_attention = sdpa
    try:
        yield
    finally:
        modeling.scaled_dot_product_attention = original


def _cache_dir(cfg: TrainConfig) -> Path:
    if cfg.cache_dir:
        return Path(cfg.cache_dir)
    from motionseg_trt.cache import cache_root

    return cache_root() / "train"


def parse_seeds(spec: str) -> list[int]:
    """"0-99,150-199,7" -> [0..99, 150..199, 7] (inclusive ranges). A part that is not a seed or a
    rising range, or a spec with no seed at all, is a ``ValueError`` that says which."""
    seeds: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        a, _, b = part.partition("-")
        if not a.strip().isdigit() or not (b or a).strip().isdigit() or int(b or a) < int(a):
            raise ValueError(f"--seeds takes seeds and rising ranges such as 0-99,150-199,7, not {part!r}")
        seeds += list(range(int(a), int(b or a) + 1))
    if not seeds:
        raise ValueError(f"--seeds {spec!r} names no seed")
    if any(s >= VAL_SEED_BASE for s in seeds):
        raise ValueError(f"training seeds must stay below {VAL_SEED_BASE} (validation seeds)")
    return seeds


def training_seeds(cfg: "TrainConfig") -> list[int]:
    return parse_seeds(cfg.train_seeds) if cfg.train_seeds else list(range(cfg.train_clips))


def prepare(sample: WindowSample, model_config, idx: Optional[np.ndarray] = None, flip_x: bool = False):
    """Model inputs (the inference preprocessing), labels and prior logits (zeros without evidence) for
    some tracks of a window."""
    from motionseg_trt.contracts import Tracks
    from motionseg_trt.motion.classifier.preprocess import PreprocessConfig, prepare_from_tracks
    from motionseg_trt.motion.residual_features import apply_evidence

    idx = np.arange(len(sample.label)) if idx is None else idx
    xy = sample.xy[idx]
    if flip_x:
        xy = xy.copy()
        xy[..., 0] = (sample.image_hw[1] - 1) - xy[..., 0]
    tracks = Tracks(xy=xy, visible=sample.visible[idx], confidence=sample.confidence[idx],
                    ids=np.asarray(idx, np.int64), query_frame=sample.query[idx])
    ev = sample.evidence
    pcfg = PreprocessConfig.for_model(model_config, use_depth=model_config.use_depth and ev is None)
    prepared = prepare_from_tracks(tracks, None, image_hw=sample.image_hw, cfg=pcfg)
    rows = np.asarray(idx)[prepared.kept]
    prior = np.zeros(len(rows), np.float32)
    if ev is not None:  # residuals do not change under a horizontal flip; stabilised positions flip
        prior = apply_evidence(prepared.inputs, ev, rows, sample.image_hw, flip_x=flip_x)
    return prepared.inputs, sample.label[idx][prepared.kept], prior


def _batch(samples, model_config, rng, n_tracks, augment: bool):
    """Stack windows into ``[B, N, ...]`` tensors, padding with invisible tracks flagged in track_pad."""
    import torch

    feeds, labels, priors = [], [], []
    for s in samples:
        n = len(s.label)
        idx = np.sort(rng.choice(n, min(n_tracks, n), replace=False)) if n > n_tracks else np.arange(n)
        inputs, y, prior = prepare(s, model_config, idx, flip_x=augment and rng.random() < 0.5)
        feeds.append(inputs)
        labels.append(y)
        priors.append(prior)
    N = max(len(y) for y in labels)
    T = feeds[0].traj.shape[1]
    B = len(samples)
    out = {"traj": np.zeros((B, N, T, 2), np.float32), "mask": np.ones((B, N, T), np.float32)}
    if model_config.use_visibility_confidence:
        out["visib_value"] = np.zeros((B, N, T), np.float32)
        out["confi_value"] = np.zeros((B, N, T), np.float32)
    if model_config.use_depth:
        out["depth"] = np.zeros((B, N, T), np.float32)
    prior = np.zeros((B, N), np.float32)
    pad = np.ones((B, N), bool)
    y = np.zeros((B, N), np.float32)
    for b, (f, lab) in enumerate(zip(feeds, labels)):
        n = len(lab)
        out["traj"][b, :n] = f.traj
        out["mask"][b, :n] = f.mask
        if model_config.use_visibility_confidence:
            out["visib_value"][b, :n] = f.visib_value
            out["confi_value"][b, :n] = f.confi_value
        if model_config.use_depth:
            out["depth"][b, :n] = f.depth
        prior[b, :n] = priors[b]
        pad[b, :n] = False
        y[b, :n] = lab
    # padded tracks: one visible frame so that time attention has a key (they are masked elsewhere)
    out["mask"][..., 0] = np.where(pad, 0.0, out["mask"][..., 0])
    tensors = {k: torch.from_numpy(v) for k, v in out.items()}
    return tensors, torch.from_numpy(pad), torch.from_numpy(y), torch.from_numpy(prior)


def weighted_bce(logits, y, pad):
    """Class-balanced BCE over the valid tracks of a batch."""
    import torch
    import torch.nn.functional as F

    valid = ~pad
    pos = (y > 0.5) & valid
    neg = (y <= 0.5) & valid
    n_pos, n_neg = pos.sum().clamp(min=1), neg.sum().clamp(min=1)
    w = torch.where(pos, 0.5 / n_pos, torch.where(neg, 0.5 / n_neg, torch.zeros_like(y)))
    if int(pos.sum()) == 0 or int(neg.sum()) == 0:  # one class only: plain mean over valid tracks
        w = valid.float() / valid.sum().clamp(min=1)
    return (F.binary_cross_entropy_with_logits(logits, y, reduction="none") * w).sum()


def roc_auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tie correction); NaN with one class only."""
    from scipy.stats import rankdata

    label = np.asarray(label, bool)
    n_pos, n_neg = int(label.sum()), int((~label).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = rankdata(score)
    return float((r[label].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def track_metrics(prob: np.ndarray, label: np.ndarray, moving: np.ndarray) -> dict:
    label = np.asarray(label, bool)
    moving = np.asarray(moving, bool)
    tp = int((moving & label).sum())
    return {
        "auc": roc_auc(prob, label),
        "precision": tp / max(int(moving.sum()), 1),
        "recall": tp / max(int(label.sum()), 1),
        "tracks": int(len(label)),
        "positives": int(label.sum()),
    }


def predict_window(model, sample: WindowSample, chunk: int = 512, seed: int = 0) -> np.ndarray:
    """Probabilities for every track of a window (tracks scored in random chunks of ``chunk``, as the
    learned labeller does at inference). Validation keeps 512, the chunk with which the shipped
    weights' epoch and threshold were chosen, so that their command still reproduces them; the
    labeller's default of 128 gives the same validation AUC (0.908)."""
    from motionseg_trt.motion.learned import score_tracks

    return score_tracks(model, sample.tracks, sample.image_hw, chunk=chunk, seed=seed, evidence=sample.evidence)


def choose_threshold(prob: np.ndarray, label: np.ndarray, beta: float = 0.5) -> float:
    """The threshold (0.05 steps) of the best F-beta on ``prob`` vs ``label``: beta < 1 weighs precision
    more, since the densifier turns every false positive track into a false mask."""
    label = np.asarray(label, bool)
    best_t, best_f = 0.5, -1.0
    for t in np.round(np.arange(0.05, 1.0, 0.05), 2):
        m = track_metrics(prob, label, prob > t)
        p, r = m["precision"], m["recall"]
        f = (1 + beta ** 2) * p * r / max(beta ** 2 * p + r, 1e-12)
        if f > best_f:
            best_t, best_f = float(t), f
    return best_t


def evaluate(model, samples: list[WindowSample], threshold: float = 0.5, chunk: int = 512) -> dict:
    probs, labels = [], []
    for i, s in enumerate(samples):
        probs.append(predict_window(model, s, chunk=chunk, seed=i))
        labels.append(s.label)
    p, y = np.concatenate(probs), np.concatenate(labels)
    out = track_metrics(p, y, p > threshold)
    out["threshold"] = threshold
    return out


def train(cfg: TrainConfig, log=print) -> dict:
    """Build (or read) the datasets, train, and write ``OUT/model.safetensors`` + ``OUT/train.json``."""
    import torch

    from motionseg_trt.motion.classifier.modeling import ClassifierConfig, TrajectoryClassifier, count_parameters
    from motionseg_trt.motion.learned import CAMERA_STABILISED, EVIDENCE_KINDS

    torch.set_num_threads(max(1, int(cfg.threads)))
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    log(f"data: {len(training_seeds(cfg))} training clips, {cfg.val_clips} validation clips (cache {_cache_dir(cfg)})")
    train_set = build_dataset(_cache_dir(cfg), training_seeds(cfg), cfg.data, progress=False)
    val_set = build_dataset(_cache_dir(cfg), list(range(VAL_SEED_BASE, VAL_SEED_BASE + cfg.val_clips)), cfg.data,
                            progress=False)
    if cfg.evidence:
        if cfg.evidence not in EVIDENCE_KINDS:
            raise ValueError(f"evidence must be one of {EVIDENCE_KINDS}, not {cfg.evidence!r}")
        if not cfg.model.get("use_depth", True):
            raise ValueError("camera-residual evidence needs the depth slot: model use_depth=True")
        t1 = time.time()
        stabilise = cfg.evidence == CAMERA_STABILISED
        attach_camera_residuals(train_set, _cache_dir(cfg), cfg.data, stabilise=stabilise)
        attach_camera_residuals(val_set, _cache_dir(cfg), cfg.data, stabilise=stabilise)
        log(f"camera residuals of {len(train_set) + len(val_set)} windows in {time.time() - t1:.0f}s")
    pos = float(np.mean(np.concatenate([s.label for s in train_set]))) if train_set else 0.0
    log(f"data ready in {time.time() - t0:.0f}s: {len(train_set)} train windows ({pos:.1%} moving tracks), "
        f"{len(val_set)} val windows")

    mcfg = ClassifierConfig.from_dict(cfg.model)
    model = TrajectoryClassifier(mcfg)
    log(f"model: {count_parameters(model)} parameters, config {cfg.model}")
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, len(train_set) // cfg.batch)
    total = cfg.max_steps or cfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 50) * 0.5 * (1 + np.cos(np.pi * min(s, total) / total)))
    history, losses = [], []
    with fused_attention():
        best = _loop(cfg, model, mcfg, opt, sched, train_set, val_set, rng, total, steps_per_epoch, history,
                     losses, t0, log)
    if best is not None:
        model.load_state_dict(best[1])
    model.eval()
    if cfg.threshold < 0:
        if not val_set:
            raise ValueError("threshold 'auto' needs validation clips")
        prob = np.concatenate([predict_window(model, s, seed=i) for i, s in enumerate(val_set)])
        label = np.concatenate([s.label for s in val_set])
        cfg.threshold = choose_threshold(prob, label)
        best[0].update(track_metrics(prob, label, prob > cfg.threshold), threshold=cfg.threshold)
        log(f"threshold {cfg.threshold:.2f} (best validation F0.5): {best[0]}")
    info = {"train_config": _jsonable(asdict(cfg)), "history": history, "val": best[0] if best else {},
            "seconds": time.time() - t0, "losses": losses}
    save_weights(model, out / "model.safetensors", metadata={"val": json.dumps(info["val"]),
                                                             "train_seed": str(cfg.seed),
                                                             "threshold": str(cfg.threshold),
                                                             "evidence": cfg.evidence})
    from motionseg_trt.io.atomic import write_text

    write_text(str(out / "train.json"), json.dumps(info, indent=1))
    log(f"wrote {out / 'model.safetensors'} ({time.time() - t0:.0f}s)")
    return info


def _loop(cfg, model, mcfg, opt, sched, train_set, val_set, rng, total, steps_per_epoch, history, losses, t0, log):
    """Epochs until ``total`` steps; validation after each epoch; returns (metrics, state) of the best
    epoch by validation AUC (the last epoch when there is no validation set)."""
    import torch

    step = 0
    best = None
    while step < total:
        order = rng.permutation(len(train_set))
        model.train()
        for i in range(0, len(order) - cfg.batch + 1, cfg.batch):
            if step >= total:
                break
            inputs, pad, y, prior = _batch([train_set[j] for j in order[i:i + cfg.batch]], mcfg, rng, cfg.tracks,
                                           True)
            logits = model(**inputs, track_pad=pad) + prior
            loss = weighted_bce(logits, y, pad)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            step += 1
            if step % cfg.log_every == 0:
                log(f"step {step}/{total} loss {np.mean(losses[-cfg.log_every:]):.4f} ({time.time() - t0:.0f}s)")
        model.eval()
        epoch = len(history) + 1
        if val_set and (epoch % max(1, cfg.eval_every) == 0 or step >= total):
            metrics = evaluate(model, val_set)
        else:
            metrics = {}
        metrics.update(step=step, train_loss=float(np.mean(losses[-steps_per_epoch:])) if losses else None)
        history.append(metrics)
        log(f"epoch {len(history)}: val " + json.dumps({k: round(v, 4) if isinstance(v, float) else v
                                                       for k, v in metrics.items()}))
        if val_set and "auc" not in metrics:
            continue
        auc = metrics.get("auc", float("nan"))
        score = -1.0 if auc is None or not np.isfinite(auc) else auc
        if best is None or score >= best[2]:
            best = (metrics, {k: v.detach().clone() for k, v in model.state_dict().items()}, score)
    return best


def _jsonable(d):
    return json.loads(json.dumps(d, default=lambda o: asdict(o) if hasattr(o, "__dataclass_fields__") else str(o)))


def save_weights(model, path, metadata: Optional[dict] = None) -> None:
    """Write a model's state dict and its ``ClassifierConfig`` (JSON in the safetensors metadata, where
    the engine's ``motion.learned.read_weights_config`` reads it without torch)."""
    from safetensors.torch import save_file

    from motionseg_trt.motion.classifier.checkpoint import CONFIG_METADATA_KEY

    config = json.dumps(model.config.to_dict())
    meta = {"format": "motionseg_trt.classifier", "config": config, CONFIG_METADATA_KEY: config}
    meta.update({k: str(v) for k, v in (metadata or {}).items()})
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tmp = str(path) + ".tmp"
    save_file(state, tmp, metadata=meta)
    os.chmod(tmp, 0o644)  # package data: readable by everyone
    os.replace(tmp, path)
