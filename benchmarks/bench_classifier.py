"""Latency of the trajectory classifier per window: PyTorch eager vs ONNX Runtime, same inputs, one run.

    python benchmarks/bench_classifier.py                      # N=5000 tracks, T=32 frames, CPU
    python benchmarks/bench_classifier.py --sizes 1000x32 5000x32 --repeat 5 --threads 2
    python benchmarks/bench_classifier.py --device cuda        # GPU: torch CUDA + ORT CUDA EP when present

Prints mean / p50 / p90 / p99 per backend (ms, like trtexec) and the ratio to torch, plus the peak
resident memory. Official classifier configuration (88 channels, DINO 768), random weights (the
latency does not depend on the values). The unfused ONNX graph materialises the across-track
attention weights ([T*heads, N, N] float32: 12.8 GB at N=5000, T=32); a backend whose estimate does not
fit in the available memory is reported as skipped instead of run (TensorRT fuses this attention and
does not materialise it).
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import latency_stats, time_calls  # noqa: E402


def _available_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def ort_attention_bytes(n: int, t: int, heads: int = 4) -> int:
    """Scores + softmax output of the largest unfused attention (across tracks), float32."""
    return 2 * t * heads * n * n * 4


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", nargs="+", default=["5000x32"], help="NxT pairs (tracks x frames)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--backends", nargs="+", default=["torch", "onnxruntime"])
    p.add_argument("--onnx", help="an existing export of the official-shape classifier (skips exporting)")
    p.add_argument("--torch-attention", default="sdpa", choices=("sdpa", "math"),
                   help="eager attention: fused SDPA (default) or the explicit slices used for parity")
    a = p.parse_args(argv)

    import torch

    from motionseg_trt.export.classifier import example_inputs, export_classifier
    from motionseg_trt.motion.classifier.modeling import TrajectoryClassifier, set_attention_impl

    torch.set_num_threads(a.threads)
    set_attention_impl(a.torch_attention)
    torch.manual_seed(0)
    model = TrajectoryClassifier().eval()
    device = torch.device(a.device)
    print(f"# classifier latency, official config ({sum(p.numel() for p in model.parameters()):,} params), "
          f"device={a.device}, threads={a.threads}, torch {torch.__version__} (attention {a.torch_attention}), "
          f"cpu={os.cpu_count()} cores")

    runner = None
    if "onnxruntime" in a.backends:
        import onnxruntime as ort

        from motionseg_trt.runtime.onnxruntime import OnnxrtRunner, SessionFromOnnx

        path = a.onnx
        if path is None:
            tmp = tempfile.mkdtemp(prefix="bench-classifier-")
            t0 = time.perf_counter()
            path = export_classifier(model, os.path.join(tmp, "classifier.onnx"))
            print(f"# exported ONNX in {time.perf_counter() - t0:.1f} s (onnxruntime {ort.__version__})")
        providers = ["cuda", "cpu"] if a.device == "cuda" else ["cpu"]
        runner = OnnxrtRunner(SessionFromOnnx(path, providers=providers, intra_op_threads=a.threads)).activate()
        print(f"# ORT providers: {runner.providers}")

    model = model.to(device)
    rows = []
    for size in a.sizes:
        n, t = (int(v) for v in size.lower().split("x"))
        args = example_inputs(model, n, t, batch=1)
        feed = {k: v.numpy() for k, v in zip(model.input_names, args)}
        times = {}
        if "torch" in a.backends:
            targs = {k: v.to(device) for k, v in zip(model.input_names, args)}

            def run_torch():
                with torch.inference_mode():
                    model(**targs)
                if device.type == "cuda":
                    torch.cuda.synchronize()

            times["torch"] = time_calls(run_torch, a.warmup, a.repeat)
        if runner is not None:
            need = ort_attention_bytes(n, t)
            if a.device == "cpu" and need > 0.8 * _available_bytes():
                print(f"# onnxruntime {n}x{t}: skipped, the unfused attention needs ~{need / 2**30:.1f} GiB "
                      f"(available {_available_bytes() / 2**30:.1f} GiB)")
            else:
                times["onnxruntime"] = time_calls(lambda: runner.infer(feed), a.warmup, a.repeat)
        base = statistics.fmean(times["torch"]) if "torch" in times else None
        for name, ms in times.items():
            st = latency_stats(ms)
            ratio = f"{statistics.fmean(ms) / base:.2f}x torch" if base else ""
            rows.append((f"{n}x{t}", name, st, ratio))
            print(f"N={n:5d} T={t:3d} {name:12s} mean {st['mean']:9.1f} ms  p50 {st['p50']:9.1f}  "
                  f"p90 {st['p90']:9.1f}  p99 {st['p99']:9.1f}  {ratio}", flush=True)
        del args, feed
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"# peak RSS {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
