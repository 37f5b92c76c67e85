"""Every backend's runner answers the same calls: names in the network's order, ``infer`` by name, and
a ``KeyError`` that names a missing input (TensorRT's runner shares the code but needs a GPU)."""
import numpy as np
import pytest
import torch

from motionseg_trt.runtime.onnxruntime import OnnxrtRunner, SessionFromOnnx
from motionseg_trt.runtime.torch import ModuleLoader, TorchRunner


class _ScaleAdd(torch.nn.Module):
    def forward(self, a, b):
        return a * 2.0 + b, a - b


@pytest.fixture(scope="module")
def runners(tmp_path_factory):
    path = tmp_path_factory.mktemp("runner") / "scale_add.onnx"
    example = (torch.zeros(2, 3), torch.zeros(2, 3))
    torch.onnx.export(_ScaleAdd(), example, str(path), input_names=["a", "b"], output_names=["sum", "diff"],
                      dynamo=False)
    return {
        "onnxruntime": OnnxrtRunner(SessionFromOnnx(str(path), intra_op_threads=1)),
        "torch": TorchRunner(ModuleLoader(_ScaleAdd), ["a", "b"], ["sum", "diff"]),
        "path": str(path),
    }


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_same_interface_and_outputs(runners, backend):
    runner = runners[backend]
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.full((2, 3), 0.5, np.float32)
    with runner:
        assert runner.input_names == ["a", "b"] and runner.output_names == ["sum", "diff"]
        out = runner.infer({"b": b, "a": a})  # by name, not by position
    assert not runner.is_active
    np.testing.assert_allclose(np.asarray(out["sum"]), a * 2 + b, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out["diff"]), a - b, rtol=1e-6)


@pytest.mark.parametrize("backend, kind", [("onnxruntime", "graph"), ("torch", "module")])
def test_missing_input_is_named(runners, backend, kind):
    with pytest.raises(KeyError, match=rf"missing inputs \['b'\]; the {kind} takes \['a', 'b'\]"):
        runners[backend].infer({"a": np.zeros((2, 3), np.float32)})


def test_names_come_from_the_graph_and_activate_it(runners):
    runner = OnnxrtRunner(SessionFromOnnx(runners["path"], intra_op_threads=1))
    assert not runner.is_active
    assert runner.output_names == ["sum", "diff"]  # read from the session, which this loads
    assert runner.is_active
    runner.deactivate()
    assert runner.input_names == ["a", "b"]  # the names outlive the session
