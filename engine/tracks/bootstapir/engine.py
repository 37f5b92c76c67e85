"""Runs BootsTAPIR's two graphs on runners of any backend (the dispatcher makes them from the tracker's
network description), in chunks:

* ``features(frames [F, 256, 256, 3] float32 in [-1, 1]) -> (hires, lowres)`` per-frame features,
  computed ``frame_chunk`` frames at a time (the original extracts 10 at a time: same numbers);
* ``track(hires, lowres, queries [N, 3]) -> {"tracks" [N, T, 2], "occlusion" [N, T], "expected_dist"}``
  in chunks of queries. An exported graph has a fixed query count (``query_chunk``): the last chunk is
  padded (queries are independent, so padding changes nothing). A runner of the module itself
  (``runner.eager``) takes any count: it gets unpadded chunks, shrunk for long windows so that its
  PIPs patches (about chunk x T x 64 x 256 floats) stay near those of ``query_chunk`` x 32 frames.

Both take NumPy and return NumPy.
"""
from __future__ import annotations

import numpy as np


def _pad_queries(queries: np.ndarray, size: int) -> np.ndarray:
    if len(queries) == size:
        return queries
    pad = np.repeat(queries[:1] if len(queries) else np.zeros((1, 3), np.float32), size - len(queries), 0)
    return np.concatenate([queries, pad], 0)


class TapirEngine:
    def __init__(self, features_runner, track_runner, query_chunk: int, frame_chunk: int = 10):
        self.query_chunk = int(query_chunk)
        self.frame_chunk = int(frame_chunk)
        # a runner of None: that graph is not used (e.g. features computed elsewhere)
        self.features_runner = features_runner.activate() if features_runner is not None else None
        self.track_runner = track_runner.activate() if track_runner is not None else None

    @classmethod
    def on_backend(cls, config, network, query_chunk: int, frame_chunk: int = 10, log=print) -> "TapirEngine":
        """The graphs of ``network`` (a :class:`~motionseg_trt.runtime.network.NetworkSpec` with the parts
        ``features`` and ``track``) on ``config.backend``."""
        from ...runtime.dispatch import make_runners

        runners = make_runners(config, network, log)
        return cls(runners["features"], runners["track"], query_chunk, frame_chunk)

    def features(self, frames: np.ndarray):
        frames = np.ascontiguousarray(frames, dtype=np.float32)
        his, los = [], []
        for s in range(0, len(frames), self.frame_chunk):
            out = self.features_runner.infer({"frames": frames[s:s + self.frame_chunk]})
            his.append(out["hires"])
            los.append(out["lowres"])
        return np.concatenate(his, 0), np.concatenate(los, 0)

    def track(self, hires, lowres, queries: np.ndarray) -> dict:
        queries = np.asarray(queries, np.float32).reshape(-1, 3)
        n, t = len(queries), hires.shape[0]
        out = {"tracks": np.zeros((n, t, 2), np.float32), "occlusion": np.zeros((n, t), np.float32),
               "expected_dist": np.zeros((n, t), np.float32)}
        eager = getattr(self.track_runner, "eager", False)
        chunk = max(1, min(self.query_chunk, (self.query_chunk * 32) // max(t, 1))) if eager else self.query_chunk
        for s in range(0, n, chunk):
            part = queries[s:s + chunk]
            feed = part if eager else _pad_queries(part, chunk)
            res = self.track_runner.infer({"hires": hires, "lowres": lowres, "query_points": feed})
            for k in out:
                out[k][s:s + len(part)] = res[k][:len(part)]
        return out

    def run(self, frames: np.ndarray, queries: np.ndarray) -> dict:
        hires, lowres = self.features(frames)
        return self.track(hires, lowres, queries)

    @staticmethod
    def slice_frames(feats, index):
        return feats[np.asarray(index, dtype=np.int64)]

    @staticmethod
    def concat_frames(parts):
        return np.concatenate(parts, 0)
