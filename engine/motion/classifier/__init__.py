"""The paper's per-track motion classifier (SegAnyMo ``traj_oa_depth``).

* :mod:`.modeling`   the network (``TrajectoryClassifier(ClassifierConfig(...))``), official state-dict keys
* :mod:`.features`   the 88-channel per-frame feature in exportable PyTorch
* :mod:`.preprocess` raw tracker outputs / engine ``Tracks`` -> model inputs (official quirks selectable)
* :mod:`.select`     the official moving-track selection rule
* :mod:`.checkpoint` loading ``moseg.pth`` / state dicts / safetensors with clear errors
* :mod:`.predictor`  runs a model (torch) or an exported graph (runtime layer) on prepared inputs
* :mod:`.labeller`   the ``MotionLabeller`` stage for ``--motion-model official``

Submodules are imported on demand (torch is heavy and not needed on every CLI path).
"""
