"""Parity run of the trajectory classifier on a golden fixture folder.

    python -m motionseg_training.parity.classifier FIXTURE_DIR OUT.safetensors [--backend torch|onnxruntime]

Reads only ``FIXTURE_DIR/state_dict.safetensors`` and the ``raw.*`` tensors of
``FIXTURE_DIR/inputs.safetensors``, runs our preprocessing (official quirks: 8-bit depth normalisation,
[-1,1]-as-[0,1] depth sampling, DINO from the query frame), our model (PyTorch, or the exported ONNX
graph through ONNX Runtime) and the official selection rule, and writes ``prob [1,1,N]``,
``logits [1,1,N]``, ``select.moving [N]`` and ``select.threshold_used [1]``. Nothing depends on a
particular fixture: sizes, clip length, number of query frames and DINO map size come from the files.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Optional

import numpy as np

RAW_PREFIX = "raw."


def load_raw_inputs(fixture_dir: str) -> dict[str, np.ndarray]:
    """The ``raw.*`` tensors of ``inputs.safetensors`` (prefix removed); nothing else is read."""
    from safetensors import safe_open

    raw = {}
    with safe_open(os.path.join(fixture_dir, "inputs.safetensors"), framework="np") as f:
        for key in f.keys():
            if key.startswith(RAW_PREFIX):
                raw[key[len(RAW_PREFIX):]] = f.get_tensor(key)
    return raw


def prepare(raw: dict[str, np.ndarray], model_config, depth_sampling: str = "official"):
    from motionseg_trt.motion.classifier.preprocess import PreprocessConfig, prepare_from_raw

    cfg = PreprocessConfig.for_model(model_config, depth_sampling=depth_sampling)
    return prepare_from_raw(
        tracks_px=raw["tracks_px"], occlusion_logits=raw["occlusion_logits"],
        expected_dist_logits=raw["expected_dist_logits"], track_query_frame=raw["track_query_frame"],
        image_hw=tuple(int(v) for v in raw["image_hw"]), depth_u8=raw.get("depth_u8"),
        dino_maps=raw.get("dino_maps_f16"), query_frames=raw.get("query_frames"), cfg=cfg)


def make_predictor(model, backend: str, weights: str, engine_cache: Optional[str] = None):
    """A :class:`ClassifierPredictor` of ``model`` (whose weights are the file ``weights``) on
    ``backend``, through the runtime layer; an export of the same weights in ``engine_cache`` is reused."""
    from motionseg_trt.config import RunConfig
    from motionseg_trt.runtime import NetworkSpec, make_runner
    from motionseg_trt.motion.classifier.labeller import classifier_graph
    from motionseg_trt.motion.classifier.predictor import ClassifierPredictor

    config = RunConfig(backend=backend, engine_cache=engine_cache or tempfile.mkdtemp(prefix="parity-"))
    graph = classifier_graph("parity_classifier", model.config, weights, 2, lambda: model)
    return ClassifierPredictor(make_runner(config, NetworkSpec("classifier", lambda: [graph]), log=lambda m: None),
                               input_names=list(model.config.input_names))


def run_parity(fixture_dir: str, backend: str = "torch", depth_sampling: str = "official",
               engine_cache: Optional[str] = None) -> dict[str, np.ndarray]:
    from motionseg_trt.motion.classifier.checkpoint import load_classifier
    from motionseg_trt.motion.classifier.select import select_moving

    weights = os.path.join(fixture_dir, "state_dict.safetensors")
    model = load_classifier(weights)
    raw = load_raw_inputs(fixture_dir)
    prepared = prepare(raw, model.config, depth_sampling)
    from motionseg_trt.motion.classifier.modeling import attention_impl

    # eager torch: the explicit attention, as torch.nn.MultiheadAttention computes it (closest numbers)
    with tempfile.TemporaryDirectory() as tmp, attention_impl("math"):
        prob, logits = make_predictor(model, backend, weights, engine_cache or tmp).predict(prepared.inputs)
    selection = select_moving(prob, int(raw["tracks_px"].shape[1]))
    return {"prob": prob.reshape(1, 1, -1), "logits": logits.reshape(1, 1, -1),
            "select.moving": selection.moving,
            "select.threshold_used": np.array([selection.threshold_used], np.float32)}


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m motionseg_training.parity.classifier", description=__doc__.split("\n")[0])
    p.add_argument("fixture_dir")
    p.add_argument("out", help="safetensors file to write (prob, logits, select.moving, select.threshold_used)")
    p.add_argument("--backend", choices=("torch", "onnxruntime"), default="torch")
    p.add_argument("--depth-sampling", choices=("official", "correct"), default="official",
                   help="official (what the released weights were trained with) or correct")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (1 reproduces the fixture's reduction order best)")
    a = p.parse_args(argv)

    import torch
    from safetensors.numpy import save_file

    from motionseg_trt.errors import MotionSegError

    torch.set_num_threads(max(1, a.threads))
    try:
        out = run_parity(a.fixture_dir, a.backend, a.depth_sampling)
    except MotionSegError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in out.items()}, a.out)
    n = out["prob"].shape[-1]
    print(f"{a.out}: prob/logits [1,1,{n}], {int(out['select.moving'].sum())} moving "
          f"(threshold {float(out['select.threshold_used'][0]):g}), backend {a.backend}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
