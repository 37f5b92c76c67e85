"""Runs the two BootsTAPIR graphs on one backend: PyTorch (reference) or an ONNX graph pair through
:func:`motionseg_trt.runtime.make_runner` (ONNX Runtime, or TensorRT where installed).

Both engines take NumPy and return NumPy:

* ``features(frames [F, 256, 256, 3] float32 in [-1, 1]) -> (hires, lowres)`` per-frame features,
  computed ``frame_chunk`` frames at a time (the original extracts 10 at a time: same numbers);
* ``track(hires, lowres, queries [N, 3]) -> {"tracks" [N, T, 2], "occlusion" [N, T], "expected_dist"}``
  in chunks of ``query_chunk`` queries; the last chunk is padded (queries are independent, so padding
  changes nothing) because an exported graph has a fixed query count.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np


def _pad_queries(queries: np.ndarray, size: int) -> np.ndarray:
    if len(queries) == size:
        return queries
    pad = np.repeat(queries[:1] if len(queries) else np.zeros((1, 3), np.float32), size - len(queries), 0)
    return np.concatenate([queries, pad], 0)


class _ChunkedEngine:
    query_chunk: int
    frame_chunk: int

    def _features_chunk(self, frames: np.ndarray): ...

    def _track_chunk(self, hires, lowres, queries: np.ndarray) -> dict: ...

    def features(self, frames: np.ndarray):
        frames = np.ascontiguousarray(frames, dtype=np.float32)
        his, los = [], []
        for s in range(0, len(frames), self.frame_chunk):
            h, lo = self._features_chunk(frames[s:s + self.frame_chunk])
            his.append(h)
            los.append(lo)
        return np.concatenate(his, 0), np.concatenate(los, 0)

    def track(self, hires, lowres, queries: np.ndarray) -> dict:
        queries = np.asarray(queries, np.float32).reshape(-1, 3)
        n, t = len(queries), hires.shape[0]
        out = {"tracks": np.zeros((n, t, 2), np.float32), "occlusion": np.zeros((n, t), np.float32),
               "expected_dist": np.zeros((n, t), np.float32)}
        for s in range(0, n, self.query_chunk):
            chunk = queries[s:s + self.query_chunk]
            res = self._track_chunk(hires, lowres, _pad_queries(chunk, self.query_chunk))
            for k in out:
                out[k][s:s + len(chunk)] = res[k][:len(chunk)]
        return out

    def run(self, frames: np.ndarray, queries: np.ndarray) -> dict:
        hires, lowres = self.features(frames)
        return self.track(hires, lowres, queries)


class TorchTapirEngine(_ChunkedEngine):
    """The PyTorch network (CPU or CUDA; ``fp16`` runs the network in half precision on CUDA)."""

    name = "torch"

    def __init__(self, model, query_chunk: int = 256, frame_chunk: int = 10, device: str = "cpu",
                 fp16: bool = False):
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.dtype = torch.float16 if fp16 else torch.float32
        self.model = model.eval().to(self.device, self.dtype)
        self.query_chunk = int(query_chunk)
        self.frame_chunk = int(frame_chunk)

    def _features_chunk(self, frames):
        with self.torch.inference_mode():
            h, lo = self.model.extract_features(self.torch.from_numpy(frames).to(self.device, self.dtype))
        return h, lo  # kept as tensors on the device: the tracking step consumes them there

    def features(self, frames):
        frames = np.ascontiguousarray(frames, dtype=np.float32)
        parts = [self._features_chunk(frames[s:s + self.frame_chunk])
                 for s in range(0, len(frames), self.frame_chunk)]
        return self.torch.cat([p[0] for p in parts]), self.torch.cat([p[1] for p in parts])

    def _track_chunk(self, hires, lowres, queries):
        torch = self.torch
        with torch.inference_mode():
            q = torch.from_numpy(queries).to(self.device)
            tr, oc, ed = self.model.track(self._as_tensor(hires), self._as_tensor(lowres), q)
        return {"tracks": tr.float().contiguous().cpu().numpy(),
                "occlusion": oc.float().contiguous().cpu().numpy(),
                "expected_dist": ed.float().contiguous().cpu().numpy()}

    def track(self, hires, lowres, queries):
        # no padding needed in eager mode
        queries = np.asarray(queries, np.float32).reshape(-1, 3)
        n = len(queries)
        t = hires.shape[0]
        if n == 0:
            return {"tracks": np.zeros((0, t, 2), np.float32), "occlusion": np.zeros((0, t), np.float32),
                    "expected_dist": np.zeros((0, t), np.float32)}
        # eager mode can shrink the chunk for long clips: the PIPs patches take about
        # chunk x T x 64 x 256 floats, so keep chunk x T near query_chunk x 32 (a 32-frame window)
        chunk = max(1, min(self.query_chunk, (self.query_chunk * 32) // max(t, 1)))
        parts = [self._track_chunk(hires, lowres, queries[s:s + chunk]) for s in range(0, n, chunk)]
        return {k: np.concatenate([p[k] for p in parts], 0) for k in parts[0]}

    def _as_tensor(self, x):
        if isinstance(x, np.ndarray):
            return self.torch.from_numpy(x).to(self.device, self.dtype)
        return x

    def slice_frames(self, feats, index):
        return feats[self.torch.as_tensor(index, device=feats.device, dtype=self.torch.long)]

    def concat_frames(self, parts):
        return self.torch.cat(parts, 0)


class OnnxTapirEngine(_ChunkedEngine):
    """An exported graph pair (see :mod:`motionseg_trt.export.tracker`) on any runtime backend.

    Takes two :class:`~motionseg_trt.runtime.base.Runner` objects (ONNX Runtime, TensorRT, ...);
    :meth:`from_paths` makes them with :func:`motionseg_trt.runtime.make_runner`.
    """

    name = "onnx"

    def __init__(self, features_runner, track_runner, query_chunk: int, frame_chunk: int = 10):
        self.query_chunk = int(query_chunk)
        self.frame_chunk = int(frame_chunk)
        self.features_runner = features_runner.activate() if features_runner is not None else None
        self.track_runner = track_runner.activate() if track_runner is not None else None

    @classmethod
    def from_paths(cls, features_onnx: str | os.PathLike, track_onnx: str | os.PathLike, query_chunk: int,
                   backend: str = "onnxruntime", frame_chunk: int = 10, features_kwargs: Optional[dict] = None,
                   track_kwargs: Optional[dict] = None, **runner_kwargs) -> "OnnxTapirEngine":
        from ...runtime import make_runner

        fr = tr = None  # a path of None: that part is not used (e.g. features computed elsewhere)
        if features_onnx is not None:
            fr = make_runner(str(features_onnx), backend, **{**runner_kwargs, **(features_kwargs or {})})
        if track_onnx is not None:
            tr = make_runner(str(track_onnx), backend, **{**runner_kwargs, **(track_kwargs or {})})
        return cls(fr, tr, query_chunk, frame_chunk)

    @classmethod
    def from_model(cls, model, out_dir: str | os.PathLike, query_chunk: int = 256, fp16: bool = False,
                   backend: str = "onnxruntime", **kwargs) -> "OnnxTapirEngine":
        """Export ``model`` into ``out_dir`` (reusing an export of the same weights) and load it."""
        from ...export.tracker import export_tracker, read_tracker_onnx, weights_fingerprint

        info = read_tracker_onnx(out_dir, query_chunk, fp16, fingerprint=weights_fingerprint(model))
        if info is None:
            info = export_tracker(model, Path(out_dir), query_chunk=query_chunk, fp16=fp16)
        return cls.from_paths(info.features, info.track, query_chunk, backend=backend, **kwargs)

    def _features_chunk(self, frames):
        out = self.features_runner.infer({"frames": frames})
        return out["hires"], out["lowres"]

    def _track_chunk(self, hires, lowres, queries):
        return self.track_runner.infer({"hires": hires, "lowres": lowres, "query_points": queries})

    @staticmethod
    def slice_frames(feats, index):
        return feats[np.asarray(index, dtype=np.int64)]

    @staticmethod
    def concat_frames(parts):
        return np.concatenate(parts, 0)
