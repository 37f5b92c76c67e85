"""Shared benchmark helpers: latency statistics (as trtexec reports them), memory, generated clips,
and plain-text tables."""
from __future__ import annotations

import os
import platform
import resource
import time
from typing import Iterable, Sequence

import numpy as np


def latency_stats(samples_ms: Sequence[float]) -> dict:
    """mean, median and tail percentiles of per-call latencies in milliseconds."""
    x = np.asarray(list(samples_ms), np.float64)
    if x.size == 0:
        return {"n": 0}
    return {"n": int(x.size), "mean": float(x.mean()), "p50": float(np.percentile(x, 50)),
            "p90": float(np.percentile(x, 90)), "p99": float(np.percentile(x, 99)),
            "min": float(x.min()), "max": float(x.max())}


def time_calls(fn, warmup: int, repeats: int, sync=lambda: None) -> list[float]:
    """Milliseconds per call of ``fn`` over ``repeats`` calls after ``warmup`` untimed ones; ``sync``
    (e.g. :func:`cuda_sync`) waits for queued device work so that each sample is the whole call."""
    for _ in range(warmup):
        fn()
    sync()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        samples.append((time.perf_counter() - t0) * 1e3)
    return samples


def rss_mb() -> float:
    """Current resident set size of this process (Linux /proc; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident set size of the whole process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if platform.system() == "Darwin" else peak / 1024.0


def cuda_reset_peak() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
    except ImportError:
        pass


def cuda_peak_mb() -> float | None:
    """Peak memory allocated by PyTorch's CUDA allocator since the last reset (None without CUDA).
    TensorRT and ONNX Runtime allocate outside it: their memory shows in nvidia-smi only."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / (1024.0 * 1024.0)


def cuda_sync() -> None:
    try:
        import torch

        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
    except ImportError:
        pass


def machine_info() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine()}
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
        info["ort_providers"] = onnxruntime.get_available_providers()
    except ImportError:
        pass
    try:
        import tensorrt

        info["tensorrt"] = tensorrt.__version__
    except ImportError:
        info["tensorrt"] = None
    return info


def synthetic_clip(n_frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """A textured scene panned by the camera with two squares moving on their own: uint8 RGB
    [T, H, W, 3]. Content only matters for trackers' work load (texture everywhere)."""
    import cv2

    rng = np.random.default_rng(seed)
    pad = 64
    bh, bw = height + 2 * pad + n_frames, width + 2 * pad + 2 * n_frames
    tex = np.zeros((bh, bw, 3), np.float32)
    for sigma, amp in ((1.0, 0.3), (4.0, 0.4), (12.0, 0.3)):
        noise = cv2.GaussianBlur(rng.standard_normal((bh, bw, 3)).astype(np.float32), (0, 0), sigma)
        tex += amp * noise / (noise.std() + 1e-6)
    tex = ((tex - tex.min()) / (np.ptp(tex) + 1e-6) * 255).astype(np.uint8)
    obj = tex[::-1, ::-1][: max(8, height // 5), : max(8, width // 6)].copy()
    oh, ow = obj.shape[:2]
    frames = np.empty((n_frames, height, width, 3), np.uint8)
    for t in range(n_frames):
        y0, x0 = pad + t // 2, pad + t * 2 % (bw - width - pad)
        frames[t] = tex[y0:y0 + height, x0:x0 + width]
        for k, (vy, vx) in enumerate(((1.5, 3.0), (-2.0, 1.0))):
            cy = int((height // 3 + k * height // 3 + vy * t) % max(1, height - oh))
            cx = int((width // 4 + k * width // 3 + vx * t) % max(1, width - ow))
            frames[t, cy:cy + oh, cx:cx + ow] = obj
    return frames


def format_table(rows: Iterable[dict], columns: Sequence[tuple[str, str, str]]) -> str:
    """``columns``: (key, header, format) e.g. ("mean", "mean ms", "{:.1f}")."""
    rows = list(rows)
    cells = [[h for _, h, _ in columns]]
    for r in rows:
        line = []
        for key, _, fmt in columns:
            v = r.get(key)
            line.append("-" if v is None else (fmt.format(v) if fmt else str(v)))
        cells.append(line)
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    out = []
    for j, row in enumerate(cells):
        out.append("  ".join(c.rjust(w) if j and i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
