"""The output formats of a run, one row each: name -> ``"module:Class"`` of its :class:`~.base.Sink`.

Sinks are written in this order and finished in it, except that those marked ``marks_complete``
(``objects.json``) finish after all the others, and ``run.json`` (the run's record, written by
:class:`~motionseg_trt.io.writers.OutputWriter`) comes last of all. A new output format is one
``Sink`` subclass and one row here; ``--overwrite`` then also clears its files.
"""
from __future__ import annotations

import importlib

SINKS: dict[str, str] = {
    "masks": "motionseg_trt.io.sinks.masks:MaskPngSink",
    "overlay": "motionseg_trt.io.sinks.overlay:OverlaySink",
    "objects": "motionseg_trt.io.sinks.objects:ObjectsJsonSink",
}


def sink_classes() -> list[type]:
    out = []
    for target in SINKS.values():
        module, _, attr = target.partition(":")
        out.append(getattr(importlib.import_module(module), attr))
    return out
