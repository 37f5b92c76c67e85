"""SAM2 densifier: turns moving tracks into per-object masks with SAM2's video predictor, prompted
the way the paper's official code does it (Stage 1 grouping, Stage 2 refinement, merge).

* :mod:`.loader`    builds SAM2 / SAM2.1 from the ``sam2`` package's configs (checkpoint or random init);
* :mod:`.prompting` the prompting algorithm, written against a small predictor interface;
* :mod:`.parts`     SAM2's four networks as one network description, run on any backend inside SAM2's video logic;
* :mod:`.densifier` :class:`Sam2Densifier`, the streaming ``Densifier`` stage.

Nothing heavy is imported here (torch / sam2 load when a densifier is built).
"""
from __future__ import annotations


def __getattr__(name):
    if name == "Sam2Densifier":
        from .densifier import Sam2Densifier

        return Sam2Densifier
    raise AttributeError(name)


__all__ = ["Sam2Densifier"]
