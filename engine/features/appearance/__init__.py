"""The embedded set's appearance cues: salient-object maps (U²-Netp) and ImageNet backbone features
(EfficientNet-Lite0), both pretrained, both installed from the package registries.

Motion says *that* something moves; these say *what* is an object and where it ends. The networks run
on key frames through the runtime layer like every other network (:mod:`.networks`); the maps are
carried to the frames between key frames along the tracker's dense flow (:mod:`.propagate`). The stage
(:mod:`.stage`) hands the labeller the backbone maps of its key frames (the classifier's DINO slot) and
the densifier a saliency map per frame.
"""
