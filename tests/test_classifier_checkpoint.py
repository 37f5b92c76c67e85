"""Loading classifier weights: official moseg.pth layout, plain state dicts, safetensors, and clear errors."""
from __future__ import annotations

import numpy as np
import pytest

from motionseg_trt.errors import ModelFileError

torch = pytest.importorskip("torch")

from motionseg_trt.motion.classifier.checkpoint import (  # noqa: E402
    infer_config, load_classifier, save_classifier)
from motionseg_trt.motion.classifier.modeling import ClassifierConfig, TrajectoryClassifier  # noqa: E402


@pytest.fixture(scope="module")
def official():
    torch.manual_seed(3)
    return TrajectoryClassifier().eval()


def _inputs(model, n=20, t=4):
    from motionseg_trt.export.classifier import example_inputs

    return dict(zip(model.input_names, example_inputs(model, n, t, batch=1)))


def _same(a, b):
    x = _inputs(a)
    with torch.no_grad():
        return torch.equal(a(**x), b(**x))


def test_official_state_dict_layout(official):
    sd = official.state_dict()
    assert len(sd) == 200
    assert sum(v.numel() for v in sd.values()) == 3_443_809
    assert sum(v.numel() for k, v in sd.items() if k.startswith("joint_encoder.")) == 17_248
    assert tuple(sd["joint_encoder.input_fc1.weight"].shape) == (16, 88, 1, 1)
    assert tuple(sd["decoder.encoders.3.ffn.0.weight"].shape) == (512, 896)
    assert "joint_encoder.transformer_model.decoder.layers.1.norm4.weight" in sd


def test_matches_fixture_manifest_keys(official):
    from _classifier_fixture import FIXTURE

    path = FIXTURE / "manifest.json"
    if not path.exists():
        pytest.skip("classifier fixture not found")
    manifest = __import__("json").loads(path.read_text())["state_dict"]
    assert {k: tuple(v["shape"]) for k, v in manifest.items()} == \
        {k: tuple(v.shape) for k, v in official.state_dict().items()}


def test_moseg_pth_layout(official, tmp_path):
    path = tmp_path / "moseg.pth"
    torch.save({"epoch": 7, "model_state_dict": official.state_dict(), "optimizer_state_dict": {}}, path)
    loaded = load_classifier(str(path))
    assert loaded.config == ClassifierConfig()
    assert _same(official, loaded)


def test_plain_and_dataparallel_state_dicts(official, tmp_path):
    torch.save(official.state_dict(), tmp_path / "plain.pt")
    assert _same(official, load_classifier(str(tmp_path / "plain.pt")))
    torch.save({"module." + k: v for k, v in official.state_dict().items()}, tmp_path / "dp.pt")
    assert _same(official, load_classifier(str(tmp_path / "dp.pt")))


def test_safetensors_roundtrip_keeps_config(tmp_path):
    cfg = ClassifierConfig(use_dino=False, use_depth=False, head_dim=32, head_heads=4, head_ffn=64,
                           head_enc_blocks=2, head_dec_blocks=1)
    torch.manual_seed(0)
    model = TrajectoryClassifier(cfg).eval()
    save_classifier(model, str(tmp_path / "ours.safetensors"))
    loaded = load_classifier(str(tmp_path / "ours.safetensors"))
    assert loaded.config == cfg and _same(model, loaded)


def test_config_inferred_from_shapes(tmp_path):
    cfg = ClassifierConfig(use_dino=False, use_depth=False, use_visibility_confidence=False, head_enc_blocks=2)
    sd = TrajectoryClassifier(cfg).state_dict()
    got = infer_config(sd)
    assert (got.use_dino, got.use_depth, got.use_visibility_confidence, got.head_enc_blocks) == (False, False, False, 2)
    with pytest.raises(ModelFileError, match="ambiguous"):
        infer_config(TrajectoryClassifier(ClassifierConfig(use_depth=False)).state_dict())


def test_missing_key_is_named(official, tmp_path):
    sd = dict(official.state_dict())
    del sd["decoder.output_layer.bias"]
    torch.save({"model_state_dict": sd}, tmp_path / "m.pth")
    with pytest.raises(ModelFileError, match=r"missing keys \(1\): decoder\.output_layer\.bias"):
        load_classifier(str(tmp_path / "m.pth"))


def test_unexpected_key_is_named(official, tmp_path):
    sd = dict(official.state_dict())
    sd["decoder.extra.weight"] = torch.zeros(3)
    torch.save({"model_state_dict": sd}, tmp_path / "m.pth")
    with pytest.raises(ModelFileError, match=r"unexpected keys \(1\): decoder\.extra\.weight"):
        load_classifier(str(tmp_path / "m.pth"))


def test_wrong_shape_is_named(official, tmp_path):
    sd = dict(official.state_dict())
    sd["decoder.decoders.0.ffn.0.weight"] = torch.zeros(512, 64)
    torch.save({"model_state_dict": sd}, tmp_path / "m.pth")
    with pytest.raises(ModelFileError, match=r"wrong shapes \(1\): decoder\.decoders\.0\.ffn\.0\.weight \(512, 64\)"):
        load_classifier(str(tmp_path / "m.pth"), config=ClassifierConfig())


def test_wrong_file_types(tmp_path):
    (tmp_path / "notes.txt").write_text("not weights")
    with pytest.raises(ModelFileError, match="not a PyTorch checkpoint or safetensors"):
        load_classifier(str(tmp_path / "notes.txt"))
    (tmp_path / "noise.pth").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelFileError):
        load_classifier(str(tmp_path / "noise.pth"))
    torch.save({"epoch": 3}, tmp_path / "empty.pth")
    with pytest.raises(ModelFileError, match="no state dict"):
        load_classifier(str(tmp_path / "empty.pth"))
    torch.save({"model_state_dict": {"a.weight": torch.zeros(2)}}, tmp_path / "other.pth")
    with pytest.raises(ModelFileError, match="not a trajectory-classifier"):
        load_classifier(str(tmp_path / "other.pth"))
    with pytest.raises(ModelFileError, match="classifier checkpoint not found"):
        load_classifier(str(tmp_path / "absent.pth"))


def test_error_exit_code():
    assert ModelFileError.exit_code == 5
