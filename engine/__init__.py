"""motionseg-trt: streaming moving-object segmentation (Segment Any Motion in Videos, CVPR 2025).

Data flows one way: decode -> tracks -> features -> motion labels -> masks -> writers.
The contracts between those stages live in :mod:`motionseg_trt.contracts`.
"""

__version__ = "0.1.0"
