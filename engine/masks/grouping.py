"""Moving tracks -> objects: spatial grouping within a window, and object ids stable across windows."""
from __future__ import annotations

import numpy as np


def group_tracks(
    xy: np.ndarray,
    visible: np.ndarray,
    link_px: float,
    min_tracks: int = 4,
    frame_step: int = 4,
    agree: float = 0.5,
) -> np.ndarray:
    """Component index per track (-1: in no object), for the tracks given (all assumed moving).

    Two tracks are linked when they are within ``link_px`` of each other in at least ``agree`` of the
    sampled frames where both are visible (objects that only pass each other stay apart); objects are
    the connected components with at least ``min_tracks`` tracks (fewer is noise).
    """
    # imported here, not with the module: SciPy takes ~0.6 s to import, and the first window's grouping
    # runs on the masks worker while the main thread tracks the next window (start-up hidden)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n, t = visible.shape
    comp = -np.ones(n, np.int64)
    if n == 0:
        return comp
    frames = list(range(0, t, max(1, frame_step)))
    if (t - 1) not in frames:
        frames.append(t - 1)
    rows, cols = [], []
    for f in frames:
        idx = np.flatnonzero(visible[:, f])
        if len(idx) < 2:
            continue
        pairs = cKDTree(xy[idx, f]).query_pairs(link_px, output_type="ndarray")
        if len(pairs):
            rows.append(idx[pairs[:, 0]])
            cols.append(idx[pairs[:, 1]])
    if rows:
        r = np.concatenate(rows)
        c = np.concatenate(cols)
        close = coo_matrix((np.ones(len(r)), (r, c)), shape=(n, n)).tocsr()
        close.sum_duplicates()
        cr, cc = close.nonzero()
        hits = np.asarray(close[cr, cc]).ravel()
        vis = visible[:, frames]
        both = np.sum(vis[cr] & vis[cc], 1)
        keep = hits >= agree * np.maximum(both, 1)
        graph = coo_matrix((np.ones(int(keep.sum())), (cr[keep], cc[keep])), shape=(n, n))
    else:
        graph = coo_matrix((n, n))
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    big = np.flatnonzero(sizes >= min_tracks)
    order = big[np.argsort(-sizes[big], kind="stable")]  # largest object first
    for k, lab in enumerate(order):
        comp[labels == lab] = k
    return comp


class ObjectIds:
    """Gives each window's components global object ids (1..255) that persist across windows.

    Tracks carry over between overlapping windows, so a component inherits the id that most of its
    tracks had in the previous window; components that share a predecessor share its id (an object
    that split in two is still one object); a component with no predecessor gets a new id (ids are not
    reused until all 255 were given out: the PNG palette holds 255 objects).
    """

    def __init__(self, min_share: float = 0.2):
        self.min_share = min_share
        self._track_object: dict[int, int] = {}
        self._next = 1

    def reset(self) -> None:
        """A scene cut: no track carries its object into the next window (new ids keep counting)."""
        self._track_object = {}

    def assign(self, track_ids: np.ndarray, comp: np.ndarray) -> np.ndarray:
        """Object id per track (0 where ``comp`` is -1)."""
        out = np.zeros(len(comp), np.int64)
        num = int(comp.max()) + 1 if len(comp) else 0
        previous = np.array([self._track_object.get(int(i), 0) for i in track_ids], np.int64)
        chosen: dict[int, int] = {}
        for k in range(num):
            members = comp == k
            votes = previous[members]
            votes = votes[votes > 0]
            if len(votes):
                ids, counts = np.unique(votes, return_counts=True)
                best = int(np.argmax(counts))
                if counts[best] >= self.min_share * members.sum() or counts[best] >= 3:
                    chosen[k] = int(ids[best])
        used = set(chosen.values())
        for k in range(num):
            if k not in chosen:
                if self._next <= 255:
                    new, self._next = self._next, self._next + 1
                else:
                    new = next((i for i in range(1, 256) if i not in used), 255)
                chosen[k] = new
                used.add(new)
            out[comp == k] = chosen[k]
        self._track_object = {int(i): int(o) for i, o in zip(track_ids, out) if o > 0}
        return out
