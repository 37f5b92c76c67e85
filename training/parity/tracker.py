"""Parity run of the BootsTAPIR tracker on a golden fixture (formula weights, no weight file).

    python -m motionseg_training.parity.tracker FIXTURE_DIR OUT.safetensors [--backend torch|onnxruntime]

Reads FIXTURE_DIR/manifest.json (the state-dict key -> shape list) and FIXTURE_DIR/inputs.safetensors
(``video_u8`` [T,256,256,3] uint8, ``query_points`` [1,N,3] (t, y, x)), fills the network by the weight
formula, runs it and writes ``tracks`` [1,N,T,2], ``occlusion`` [1,N,T], ``expected_dist`` [1,N,T].
Nothing here depends on the fixture's sizes: T, N and the seed come from the files.

``--backend onnxruntime`` exports the two graphs (features, tracking with a fixed query chunk) to a
temporary folder; either backend runs them through the runtime layer.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path


def build_formula_model(manifest_path: str | os.PathLike):
    from motionseg_trt.tracks.bootstapir.checkpoint import load_state_dict_into
    from .formula_weights import formula_state_dict
    from motionseg_trt.tracks.bootstapir.modeling import build_bootstapir

    manifest = json.loads(Path(manifest_path).read_text())
    model = build_bootstapir().eval()
    load_state_dict_into(model, formula_state_dict(manifest["state_dict"]), source=str(manifest_path))
    return model


def run_fixture(fixture_dir: str | os.PathLike, backend: str = "torch", chunk: int = 64,
                work_dir: str | None = None) -> dict:
    """Run the fixture's inputs; returns numpy ``tracks``, ``occlusion``, ``expected_dist`` (batch 1)."""
    import numpy as np
    from safetensors.numpy import load_file

    from motionseg_trt.config import RunConfig
    from motionseg_trt.tracks.bootstapir.engine import TapirEngine
    from motionseg_trt.tracks.bootstapir.predictor import tracker_network

    fixture_dir = Path(fixture_dir)
    model = build_formula_model(fixture_dir / "manifest.json")
    inputs = load_file(str(fixture_dir / "inputs.safetensors"))
    frames = inputs["video_u8"].astype(np.float32) / 255.0 * 2.0 - 1.0
    queries = inputs["query_points"][0].astype(np.float32)
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        config = RunConfig(backend=backend, engine_cache=tmp, extra={"tracker_query_chunk": chunk})
        network = tracker_network(config, load_model=lambda: model, tag="formula")
        engine = TapirEngine.on_backend(config, network, query_chunk=chunk, log=lambda m: None)
        return _batched(engine.run(frames, queries))


def _batched(out: dict) -> dict:
    return {k: v[None] for k, v in out.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m motionseg_training.parity.tracker", description=__doc__.split("\n")[0])
    ap.add_argument("fixture_dir")
    ap.add_argument("out", help="output .safetensors with tracks, occlusion, expected_dist")
    ap.add_argument("--backend", choices=["torch", "onnxruntime"], default="torch")
    ap.add_argument("--chunk", type=int, default=64, help="queries per tracking call (fixed graph size)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    import numpy as np
    from safetensors.numpy import save_file

    out = run_fixture(args.fixture_dir, args.backend, args.chunk)
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}, args.out)
    print(f"wrote {args.out}: " + ", ".join(f"{k} {list(v.shape)}" for k, v in out.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
