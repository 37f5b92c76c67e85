"""Cross-validation by sequence on a DAVIS-layout folder, and the shipped models trained on all of it.

``python -m motionseg_training.davis --data DAVIS16_TRAIN --out runs/davis`` runs, in this order:

1. the engine's stages over every clip, cached (:mod:`.cache`);
2. the appearance classifier, ``--folds`` times on all but one fold, each scoring its held-out fold;
3. for each labeller (geometric; the classifier, cross-validated; the ground truth under the tracks)
   the densifier's regions of every frame, and the region classifier cross-validated the same way;
4. the J&F of every combination per sequence (``report.json``, ``report.md``): no number comes from a
   model that saw the sequence;
5. the shipped models, trained on every clip: the classifier (``embedded_classifier_davis_v3.safetensors``)
   and the region model (``region_model_davis_v1.safetensors``), trained on the regions the
   cross-validated classifier gives, as a run on unseen video would give them.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from . import cache as clip_cache
from .classifier import ClassifierTraining, track_labels
from .classifier import train as train_classifier
from .classifier import window_probabilities
from .regions import FittedModel, clip_samples, fit, fused_masks, stack

VARIANTS = ("geometric", "appearance", "oracle")


def folds_of(names: list[str], k: int) -> list[list[str]]:
    """``k`` folds of whole sequences (every k-th name in sorted order)."""
    return [names[i::k] for i in range(k)]


def score(masks: list[np.ndarray], gt: np.ndarray) -> tuple[float, float]:
    from motionseg_trt.evaluation.davis import frame_scores

    js, fs = [], []
    for m, g in zip(masks, gt):
        pred = cv2.resize(m, (g.shape[1], g.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
        j, f = frame_scores(pred, g)
        js.append(j)
        fs.append(f)
    return float(np.mean(js)), float(np.mean(fs))


def selector(variant: str, threshold: float):
    from motionseg_trt.motion.learned import select

    if variant == "appearance":
        return lambda prob: select(prob, threshold, 10)
    return lambda prob: prob > 0.5


def oracle_probabilities(clip, gt) -> list[np.ndarray]:
    return [track_labels(w, gt).astype(np.float32) for w in clip.windows]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m motionseg_training.davis", description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="folder of <seq>/{clip.mp4, masks/*.png}")
    p.add_argument("--out", required=True, help="output folder (report, models)")
    p.add_argument("--cache", default="", help="stage cache (default: OUT/cache)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--steps", type=int, default=ClassifierTraining.steps, help="classifier training steps")
    p.add_argument("--threshold", type=float, default=0.5, help="the classifier's moving-track threshold")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="an appearance stage option for the cached runs (e.g. appearance_every=8)")
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help=f"labellers to score, comma-separated, of {', '.join(VARIANTS)}")
    p.add_argument("--no-final", action="store_true", help="only the cross-validated report")
    p.add_argument("--region-labeller", default="appearance", choices=("geometric", "appearance"),
                   help="the labeller whose regions train the shipped region model (the run's labeller)")
    args = p.parse_args(argv)
    extra = dict(kv.split("=", 1) for kv in args.set)
    extra = {k: int(v) if v.isdigit() else v for k, v in extra.items()}
    variants = [v for v in args.variants.split(",") if v]
    if not set(variants) <= set(VARIANTS):
        p.error(f"--variants: choose from {', '.join(VARIANTS)}")
    if not args.no_final and args.region_labeller not in variants:
        p.error(f"--region-labeller {args.region_labeller} must be one of --variants")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(args.cache) if args.cache else out / "cache"
    t0 = time.time()

    def log(msg):
        print(f"[{time.time() - t0:7.0f}s] {msg}", flush=True)

    seqs = clip_cache.sequences(Path(args.data))
    for seq in seqs:
        clip_cache.build(seq, cache_dir, threads=args.threads, extra=extra)
    clips = {s.name: clip_cache.load(s, cache_dir, extra) for s in seqs}
    gts = {name: clip.ground_truth() for name, clip in clips.items()}
    names = sorted(clips)
    folds = folds_of(names, args.folds)
    log(f"{len(names)} clips cached; folds: {folds}")

    cfg = ClassifierTraining(steps=args.steps, threads=args.threads)
    probs = {"geometric": {n: [w.geometric for w in clips[n].windows] for n in names},
             "oracle": {n: oracle_probabilities(clips[n], gts[n]) for n in names}, "appearance": {}}
    saved = out / "crossval_probabilities.npz"  # a rerun with the same settings resumes after the classifier
    if "appearance" not in variants:
        pass  # no classifier to cross-validate
    elif saved.is_file():
        with np.load(saved) as z:
            probs["appearance"] = {n: [z[f"{n}/{w.index}"] for w in clips[n].windows] for n in names}
        log(f"classifier probabilities from {saved}")
    else:
        for k, fold in enumerate(folds):
            log(f"classifier fold {k}: training on {len(names) - len(fold)} clips")
            model = train_classifier([clips[n] for n in names if n not in fold], gts, cfg, log)
            for n in fold:
                probs["appearance"][n] = window_probabilities(model, clips[n])
        np.savez(saved, **{f"{n}/{i}": p for n in names for i, p in enumerate(probs["appearance"][n])})

    results, samples = {}, {}
    for variant in variants:
        select = selector(variant, args.threshold)
        samples[variant] = {}
        for n in names:
            frames = clips[n].frames()
            samples[variant][n] = clip_samples(clips[n], frames, gts[n], probs[variant][n], select)
        results[f"{variant}+motion"] = {n: score([s.motion for s in samples[variant][n]], gts[n]) for n in names}
        fused = {}
        for fold in folds:
            x, y, w = stack([s for n in names if n not in fold for s in samples[variant][n]])
            model = FittedModel(*fit(x, y, w))
            for n in fold:
                fused[n] = score(fused_masks(samples[variant][n], model), gts[n])
        results[f"{variant}+regions"] = fused
        log(f"{variant}: motion only {_mean(results[variant + '+motion']):.1f}, "
            f"regions {_mean(fused):.1f} J&F (cross-validated)")

    _write_report(out, results, folds, args)
    if args.no_final:
        return 0
    log("final models on every clip")
    x, y, w = stack([s for n in names for s in samples[args.region_labeller][n]])
    _save_regions(fit(x, y, w), out / "region_model_davis_v1.safetensors", args, names, extra)
    if "appearance" in variants:
        final = train_classifier([clips[n] for n in names], gts, cfg, log)
        _save_classifier(final, out / "embedded_classifier_davis_v3.safetensors", args, names, extra)
    log(f"done: {out}")
    return 0


def _mean(per_seq: dict) -> float:
    return 50.0 * float(np.mean([j + f for j, f in per_seq.values()]))


def _save_classifier(model, path: Path, args, names, extra) -> None:
    from motionseg_trt.motion.learned import CAMERA_RESIDUAL

    from ..trainer import save_weights

    save_weights(model, path, metadata={"threshold": args.threshold, "evidence": CAMERA_RESIDUAL,
                                        "training_data": f"DAVIS-2016 train ({len(names)} sequences), CC BY-NC 4.0",
                                        "command": "python -m motionseg_training.davis", "steps": args.steps,
                                        "appearance_options": json.dumps(extra)})


def _save_regions(fitted, path: Path, args, names, extra) -> None:
    from motionseg_trt.masks.region_fusion import save_region_model

    mean, std, layers = fitted
    save_region_model(path, mean, std, layers, {
        "threshold": 0.5, "training_data": f"DAVIS-2016 train ({len(names)} sequences), CC BY-NC 4.0",
        "labeller": {"appearance": "appearance classifier, cross-validated"}.get(args.region_labeller, args.region_labeller),
        "appearance_options": json.dumps(extra), "command": "python -m motionseg_training.davis"})


def _write_report(out: Path, results: dict, folds, args) -> None:
    report = {"folds": folds, "settings": vars(args),
              "results": {k: {n: {"J": 100 * j, "F": 100 * f, "J&F": 50 * (j + f)} for n, (j, f) in v.items()}
                          for k, v in results.items()}}
    (out / "report.json").write_text(json.dumps(report, indent=1))
    keys = list(results)
    names = sorted(next(iter(results.values())))
    lines = ["| sequence | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for n in names:
        lines.append(f"| {n} | " + " | ".join(f"{50 * sum(results[k][n]):.1f}" for k in keys) + " |")
    lines.append("| **mean** | " + " | ".join(f"**{_mean(results[k]):.1f}**" for k in keys) + " |")
    (out / "report.md").write_text("\n".join(lines) + "\n")
