"""ONNX export of the classifier: one graph, dynamic batch / tracks / frames, same numbers as torch."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from _classifier_fixture import exported_fixture_model, fixture_model, require_fixture  # noqa: E402

pytestmark = pytest.mark.slow  # exports the classifier to ONNX (tens of seconds)


@pytest.fixture(scope="module")
def graph():
    require_fixture()
    return exported_fixture_model()


def test_graph_has_symbolic_axes_and_plain_attention(graph):
    model = onnx.load(graph)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    assert dims["traj"] == ["B", "N", "T", 2] and dims["mask"] == ["B", "N", "T"]
    assert dims["dino"] == ["B", "N", 768]
    outs = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in model.graph.output}
    assert outs == {"logits": ["B", "N"], "prob": ["B", "N"]}
    ops = [n.op_type for n in model.graph.node]
    # 2x2 motion layers (time + track attention, + cross in the decoder) = 10, head 4 + 2x4 = 12
    assert ops.count("Softmax") == 22
    assert "Loop" not in ops and "If" not in ops  # nothing TensorRT would have to unroll


@pytest.mark.parametrize("batch,n,t", [(1, 5, 1), (1, 37, 2), (2, 64, 9), (1, 300, 24)])
def test_one_graph_many_shapes(graph, batch, n, t):
    from motionseg_trt.export.classifier import example_inputs
    from motionseg_trt.runtime.onnxruntime import OnnxrtRunner, SessionFromOnnx

    model = fixture_model()
    args = example_inputs(model, n, t, batch)
    with torch.no_grad():
        ref = model(**dict(zip(model.input_names, args))).numpy()
    with OnnxrtRunner(SessionFromOnnx(graph)) as runner:
        out = runner.infer({k: v.numpy() for k, v in zip(model.input_names, args)})
    assert out["logits"].shape == (batch, n)
    np.testing.assert_allclose(out["logits"], ref, rtol=0, atol=5e-5)
    np.testing.assert_allclose(out["prob"], 1 / (1 + np.exp(-ref.astype(np.float64))), rtol=0, atol=1e-5)


def test_fp16_export_of_a_small_variant(tmp_path):
    from motionseg_trt.export.classifier import example_inputs, export_classifier
    from motionseg_trt.motion.classifier.modeling import ClassifierConfig, TrajectoryClassifier
    from motionseg_trt.runtime.onnxruntime import OnnxrtRunner, SessionFromOnnx

    cfg = ClassifierConfig(use_dino=False, use_depth=False, motion_enc_layers=1, motion_dec_layers=1,
                           head_dim=32, head_heads=4, head_ffn=64, head_enc_blocks=1, head_dec_blocks=1)
    torch.manual_seed(0)
    model = TrajectoryClassifier(cfg).eval()
    path = export_classifier(model, str(tmp_path / "small.fp16.onnx"), fp16=True)
    assert next(model.parameters()).dtype == torch.float32  # the caller's model is untouched
    g = onnx.load(path)
    assert [i.name for i in g.graph.input] == ["traj", "mask", "visib_value", "confi_value"]
    assert any(init.data_type == onnx.TensorProto.FLOAT16 for init in g.graph.initializer)
    args = example_inputs(model, 40, 6, 1)
    with torch.no_grad():
        ref = model(**dict(zip(model.input_names, args))).numpy()
    with OnnxrtRunner(SessionFromOnnx(path)) as runner:
        out = runner.infer({k: v.numpy() for k, v in zip(model.input_names, args)})
    assert out["logits"].dtype == np.float32
    np.testing.assert_allclose(out["logits"], ref, rtol=0, atol=5e-2)
