"""BootsTAPIR, the neural long-range point tracker of the official SegAnyMo stack.

* :mod:`.modeling`  - the network (checkpoint-compatible TAPIR, pyramid_level=1), two exportable parts;
* :mod:`.checkpoint` - loading ``bootstapir_checkpoint_v2.pt`` / safetensors with clear key errors;
* :mod:`.formula_weights` - the fixture's deterministic weights (parity without a weight file);
* :mod:`.engine` - the two graphs on PyTorch or on an exported ONNX pair (ONNX Runtime / TensorRT runners);
* :mod:`.predictor` - :class:`BootsTapirTracker`, the streaming :class:`~motionseg_trt.contracts.Tracker`.

Nothing heavy is imported here: import the submodule you need.
"""
