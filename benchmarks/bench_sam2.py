"""Latency of SAM2's four parts per backend: PyTorch (the sam2 modules) vs ONNX Runtime (the exported
graphs of ``export/sam2.py``), fp32 and, on CUDA, fp16.

    python benchmarks/bench_sam2.py --image-size 1024 --repeats 5          # CPU, SAM2.1-tiny
    python benchmarks/bench_sam2.py --device cuda --fp16 --repeats 50       # GPU, adds fp16 rows
    python benchmarks/bench_sam2.py --checkpoint sam2.1_hiera_tiny.pt --config sam2.1_hiera_t

Random weights unless ``--checkpoint`` (latency does not depend on the weight values). Inputs are one
frame / one object: an image, a 1-click prompt (and a 3-click one), a memory of 7 frames + 64
object-pointer tokens (SAM2's steady state while tracking), a mask to encode. The torch rows run
what ``--backend torch`` runs (sam2's modules; for the memory attention its own complex-RoPE
module), the onnxruntime rows the exported graphs. Statistics per call in
ms (mean, p50, p90, p99) after ``--warmup`` calls; ONNX Runtime runs with ``--threads`` intra-op threads.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import format_table, latency_stats, machine_info, time_calls  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="sam2.1_hiera_t")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--image-size", type=int, default=1024)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--fp16", action="store_true", help="also time fp16 (CUDA only)")
    ap.add_argument("--threads", type=int, default=1, help="torch and ONNX Runtime intra-op threads")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--parts", nargs="+", default=None)
    ap.add_argument("--onnx-dir", default=None, help="reuse / keep the exported graphs here")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    import onnxruntime as ort
    import torch

    from motionseg_trt.export import sam2 as ex
    from motionseg_trt.masks.sam2.loader import build_sam2_video_model

    torch.set_num_threads(args.threads)
    model = build_sam2_video_model(args.config, args.checkpoint, image_size=args.image_size)
    parts = args.parts or list(ex.PART_NAMES)
    onnx_dir = Path(args.onnx_dir or tempfile.mkdtemp(prefix="sam2-bench-"))
    cuda = args.device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    providers = (["CUDAExecutionProvider"] if cuda and "CUDAExecutionProvider" in ort.get_available_providers()
                 else []) + ["CPUExecutionProvider"]

    cases = []  # (part, label, inputs)
    for part in parts:
        if part == "prompt_mask_decoder":
            cases += [(part, "1 click", ex.example_inputs(model, part, num_points=1)),
                      (part, "3 clicks", ex.example_inputs(model, part, num_points=3))]
        elif part == "memory_attention":
            cases.append((part, "7 frames + 64 ptr", ex.example_inputs(model, part, memory_frames=7, ptr_tokens=64)))
        else:
            cases.append((part, "", ex.example_inputs(model, part)))

    rows = []
    precisions = ["fp32"] + (["fp16"] if args.fp16 and cuda else [])
    for precision in precisions:
        half = precision == "fp16"
        for part, label, x in cases:
            module = ex.part_module(model, part).to(args.device)
            xs = [t.to(args.device) for t in x]
            if half:
                module = module.half()
                xs = [t.half() if t.is_floating_point() else t for t in xs]
            call = lambda: module(*xs)  # noqa: E731
            if part == "memory_attention":
                # what --backend torch runs: sam2's own MemoryAttention (complex RoPE), seq-first
                native = model.memory_attention.to(args.device)
                native = native.half() if half else native.float()
                curr, cpos, ms, msp, mp, mpp = (t.transpose(0, 1) for t in xs[:6])
                n_ptr = mp.shape[0]
                call = lambda: native(curr=[curr], curr_pos=[cpos], memory=torch.cat([ms, mp]),  # noqa: E731
                                      memory_pos=torch.cat([msp, mpp]), num_obj_ptr_tokens=n_ptr)
            with torch.inference_mode():
                stats = latency_stats(time_calls(call, args.warmup, args.repeats, sync))
            rows.append({"part": part, "case": label, "backend": "torch", "precision": precision,
                         "device": args.device, **stats})
        for part in parts:
            path = onnx_dir / f"{part}{'.fp16' if half else ''}.onnx"
            if not path.exists():
                ex.export_part(model, part, str(path), fp16=half)
            so = ort.SessionOptions()
            so.intra_op_num_threads = args.threads
            sess = ort.InferenceSession(str(path), so, providers=providers)
            names, _, _ = ex.part_io(part)
            for p, label, x in cases:
                if p != part:
                    continue
                feed = {n: t.numpy() for n, t in zip(names, x)}
                stats = latency_stats(time_calls(lambda: sess.run(None, feed), args.warmup, args.repeats))
                rows.append({"part": part, "case": label, "backend": "onnxruntime", "precision": precision,
                             "device": sess.get_providers()[0].replace("ExecutionProvider", "").lower(), **stats})
    print(f"SAM2 {args.config}, image {args.image_size}, "
          f"{'checkpoint ' + args.checkpoint if args.checkpoint else 'random weights'}, threads {args.threads}")
    print(format_table(rows, [("part", "part", ""), ("case", "input", ""), ("backend", "backend", ""),
                              ("precision", "prec", ""), ("device", "device", ""), ("mean", "mean ms", "{:.1f}"),
                              ("p50", "p50", "{:.1f}"), ("p90", "p90", "{:.1f}"), ("p99", "p99", "{:.1f}")]))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine_info(), "args": vars(args), "rows": rows},
                                              indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
