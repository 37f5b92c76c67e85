"""Training of our own trajectory-classifier weights on procedurally generated clips.

* :mod:`.data`    generated clips -> embedded tracker -> GT-labelled tracks, cached in ``.npz`` shards
* :mod:`.trainer` class-weighted BCE, AdamW, validation, the shipped model's configuration

Command: ``motionseg-trt train --out DIR`` (or ``python -m motionseg_trt.train --out DIR``).
"""
