"""motionseg-trt's training code, kept apart from the engine (it ships in no wheel of the engine):

* :mod:`.synth`   the procedural generator of training videos with exact ground truth
* :mod:`.data`    generated clips -> embedded tracker -> GT-labelled tracks, cached in ``.npz`` shards
* :mod:`.trainer` class-weighted BCE, AdamW, validation, the shipped model's configuration
* :mod:`.cli`     ``motionseg-trt train`` (also ``python -m motionseg_training``)
* :mod:`.parity`  the golden-fixture parity runs of the classifier and of BootsTAPIR

Installed from a source checkout by ``tools/dev-setup.sh`` (``pip install -e ./training``); it imports
the engine (``motionseg_trt``), never the other way round.
"""
