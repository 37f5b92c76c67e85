"""BootsTAPIR, the neural long-range point tracker of the official SegAnyMo stack.

* :mod:`.modeling`  - the network (checkpoint-compatible TAPIR, pyramid_level=1), two exportable parts;
* :mod:`.checkpoint` - loading ``bootstapir_checkpoint_v2.pt`` / safetensors with clear key errors;
* :mod:`.engine` - :class:`TapirEngine`: the two graphs in chunks, on runners of any backend;
* :mod:`.predictor` - :class:`BootsTapirTracker`, the streaming :class:`~motionseg_trt.contracts.Tracker`,
  its settings and its network description (``tracker_network``, read by ``build`` too).

The fixture's formula weights (parity without a weight file) live with the parity runs, in the
training package (``motionseg_training.parity``).

Nothing heavy is imported here: import the submodule you need.
"""
