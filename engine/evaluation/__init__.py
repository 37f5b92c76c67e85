"""Scoring segmentation results against ground truth by the DAVIS protocol (J, F, J&F), as
``motionseg-trt eval`` and ``benchmarks/davis_eval.py`` do it. NumPy, OpenCV and Pillow only.

* :mod:`.davis`: the measures of one frame (J, seg2bmap boundaries, F);
* :mod:`.scoring`: means over frames, then over sequences;
* :mod:`.folders`: which result mask is compared with which ground-truth mask.
"""
from .davis import DEFAULT_BOUND_TH, boundary_radius, f_measure, frame_scores, jaccard, seg2bmap
from .scoring import SequenceScore, frames_to_score, mean_scores, report, score_sequence

__all__ = ["DEFAULT_BOUND_TH", "SequenceScore", "boundary_radius", "f_measure", "frame_scores",
           "frames_to_score", "jaccard", "mean_scores", "report", "score_sequence", "seg2bmap"]
