"""DAVIS region (J) and boundary (F) measures for binary masks: the package's scorer
(:mod:`motionseg_trt.evaluation`, the one ``motionseg-trt eval`` uses), under the names the benchmarks
have always imported. ``boundary_map`` is the DAVIS toolkits' ``seg2bmap``."""
from __future__ import annotations

from motionseg_trt.evaluation import f_measure, frame_scores, jaccard
from motionseg_trt.evaluation import seg2bmap as boundary_map

__all__ = ["boundary_map", "f_measure", "frame_scores", "jaccard"]
