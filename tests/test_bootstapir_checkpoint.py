"""Loading BootsTAPIR weights: the official .pt layout, safetensors, and clear errors on mismatches."""
import pytest
import torch

from motionseg_trt.errors import ModelFileError
from motionseg_trt.state_dict import read_state_dict
from motionseg_trt.tracks.bootstapir.checkpoint import load_bootstapir, load_state_dict_into, save_safetensors
from motionseg_trt.tracks.bootstapir.modeling import build_bootstapir


@pytest.fixture(scope="module")
def reference():
    torch.manual_seed(3)
    return build_bootstapir().eval()


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def test_official_layout_pt_loads(reference, tmp_path):
    """bootstapir_checkpoint_v2.pt is a plain state dict of the public torch TAPIR: same keys as ours."""
    path = tmp_path / "bootstapir_checkpoint_v2.pt"
    torch.save(reference.state_dict(), path)
    model = load_bootstapir(path)
    assert _same_weights(model, reference)
    assert not model.training
    assert len(model.state_dict()) == 218 and not list(model.buffers())


def test_wrapped_and_prefixed_state_dicts_load(reference, tmp_path):
    sd = {f"module.{k}": v for k, v in reference.state_dict().items()}
    path = tmp_path / "wrapped.pth"
    torch.save({"state_dict": sd, "epoch": 3}, path)
    assert _same_weights(load_bootstapir(path), reference)


def test_safetensors_round_trip(reference, tmp_path):
    path = tmp_path / "bootstapir.safetensors"
    save_safetensors(reference, path)
    assert _same_weights(load_bootstapir(path), reference)


def test_missing_unexpected_and_misshaped_keys_are_named(reference):
    sd = dict(reference.state_dict())
    del sd["torch_pips_mixer.linear_1.bias"]
    sd["torch_pips_mixer.extra.weight"] = torch.zeros(1)
    sd["torch_cost_volume_track_mods.hid1.weight"] = torch.zeros(16, 2, 3, 3)
    with pytest.raises(ModelFileError) as err:
        load_state_dict_into(build_bootstapir(), sd, source="ckpt.pt")
    msg = str(err.value)
    assert "ckpt.pt" in msg
    assert "1 missing key(s): torch_pips_mixer.linear_1.bias" in msg
    assert "1 unexpected key(s): torch_pips_mixer.extra.weight" in msg
    assert "torch_cost_volume_track_mods.hid1.weight (16, 2, 3, 3) != (16, 1, 3, 3)" in msg
    assert err.value.exit_code == 5


def test_a_different_tapir_variant_is_rejected():
    """A TAPIR built with other options (here pyramid_level=0: a 486-wide mixer input) is not BootsTAPIR."""
    from motionseg_trt.tracks.bootstapir.modeling import TAPIR

    other = TAPIR(pyramid_level=0, num_mixer_blocks=2)
    with pytest.raises(ModelFileError, match="shape mismatch.*torch_pips_mixer.linear.weight"):
        load_state_dict_into(build_bootstapir(), other.state_dict())


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        read_state_dict(tmp_path / "absent.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelFileError, match="cannot read"):
        read_state_dict(bad)
    not_dict = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], not_dict)
    with pytest.raises(ModelFileError, match="state dict"):
        read_state_dict(not_dict)
