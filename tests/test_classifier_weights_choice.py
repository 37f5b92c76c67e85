"""Which classifier weights a run and ``build`` use: an explicit ``classifier_checkpoint`` wins over
``extra["random_weights"]`` (as ``dino_weights`` / ``depth_weights`` do for the feature stages),
and both sides pick the same weights, hence the same ONNX / engine name."""
import pytest

torch = pytest.importorskip("torch")

from motionseg_trt.config import RunConfig  # noqa: E402


@pytest.fixture
def moseg_pth(tmp_path):
    from motionseg_trt.motion.classifier.modeling import TrajectoryClassifier

    torch.manual_seed(5)  # not the seed-0 weights random_weights gives
    model = TrajectoryClassifier().eval()
    path = tmp_path / "moseg.pth"
    torch.save({"epoch": 1, "model_state_dict": model.state_dict()}, path)
    return str(path), model


def _config(tmp_path, checkpoint):
    return RunConfig(models="official", motion_model="official", backend="torch", engine_cache=str(tmp_path / "e"),
                     classifier_checkpoint=checkpoint, extra={"random_weights": True})


def test_explicit_checkpoint_wins_over_random_weights(moseg_pth, tmp_path):
    from motionseg_trt.motion.classifier.labeller import OfficialClassifierLabeller

    path, reference = moseg_pth
    labeller = OfficialClassifierLabeller(_config(tmp_path, path))
    assert labeller.checkpoint == path
    got, want = labeller.model.state_dict(), reference.state_dict()
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)


def test_random_weights_without_checkpoint(tmp_path):
    from motionseg_trt.motion.classifier.labeller import OfficialClassifierLabeller

    assert OfficialClassifierLabeller(_config(tmp_path, None)).checkpoint is None


@pytest.mark.parametrize("explicit", [True, False], ids=["checkpoint", "random"])
def test_build_and_run_pick_the_same_weights(moseg_pth, tmp_path, monkeypatch, explicit):
    import motionseg_trt.runtime.dispatch as dispatch
    from motionseg_trt.motion.classifier import labeller as labeller_mod

    config = _config(tmp_path, moseg_pth[0] if explicit else None)
    asked = []
    monkeypatch.setattr(dispatch, "ensure_onnx", lambda cfg, graph, fp16=False, log=None: asked.append(graph.name) or "x.onnx")
    monkeypatch.setattr(dispatch, "get_backend", lambda name: _NoRunner())
    for spec in labeller_mod.OfficialClassifierLabeller.network_specs(config, (480, 854)):  # what build compiles
        dispatch.prepare(config, spec)
    labeller_mod.OfficialClassifierLabeller(config)  # what a run asks for
    assert len(asked) == 2 and asked[0] == asked[1]
    assert asked[0].endswith("random0") != explicit


class _NoRunner:
    """A backend that runs exported graphs and does nothing with them (only their names matter here)."""

    runs_onnx = True

    def onnx_fp16(self, config):
        return False

    def runner(self, graph, config, onnx_path, log):
        return None

    def prepare(self, graph, config, onnx_path, log):
        pass
