"""Training on real video: the DAVIS-2016 *train* clips (``<seq>/{clip.mp4, masks/*.png}``), never
shipped, never scored on the clips a model trained on.

* :mod:`.cache`       the engine's own stages (flow tracks, appearance maps, geometric labels) run over
                      each clip as a streaming run does, stored once per clip;
* :mod:`.classifier`  the trajectory classifier with the backbone maps in its DINO slot, trained on
                      GT-labelled tracks (fine-tuned from the procedural weights);
* :mod:`.regions`     the appearance densifier's region classifier;
* :mod:`.crossval`    5-fold cross-validation by sequence of both, with per-sequence J&F tables, and
                      the final models trained on every clip (``python -m motionseg_training.davis``).
"""
