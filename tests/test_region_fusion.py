"""The appearance densifier's regions: a salient blob is split where motion ends, the parts next to the
motion keep its id, a salient blob without motion is never eligible, and region models load only when
they describe the features this engine computes."""
import numpy as np
import pytest

from motionseg_trt.errors import ModelFileError
from motionseg_trt.masks.region_fusion import (FEATURES, MOVING_ONLY, SALIENT_MOVING, SALIENT_ONLY, RegionModel,
                                               RegionRule, decide, eligible, frame_regions, fused_labels,
                                               mlp_prob, save_region_model)

H, W = 60, 80


def _scene():
    """An animal (salient 10..40 x 10..30) whose body moves (rows 10..22) and whose legs (rows 23..30)
    do not; a rock (salient 45..70 x 40..55) that does not move; a small mover that saliency misses."""
    saliency = np.zeros((H, W), np.float32)
    saliency[10:30, 10:40] = 0.9
    saliency[40:55, 45:70] = 0.8
    ids = np.zeros((H, W), np.uint8)
    ids[10:23, 10:40] = 1
    ids[5:9, 60:66] = 2
    soft = (ids > 0).astype(np.float32)
    moving_xy = np.array([[20.0, 15.0], [30.0, 18.0], [62.0, 6.0]], np.float32)
    static_xy = np.array([[50.0, 45.0], [5.0, 50.0]], np.float32)
    return frame_regions(saliency, ids, soft, moving_xy, static_xy, (H, W))


def _region_at(regions, y, x):
    return int(regions.labels[y, x]) - 1


def test_a_salient_blob_is_split_where_motion_ends_and_its_parts_keep_the_objects_id():
    regions = _scene()
    body, legs = _region_at(regions, 15, 20), _region_at(regions, 27, 20)
    rock, small = _region_at(regions, 47, 50), _region_at(regions, 6, 62)
    assert regions.kind[body] == SALIENT_MOVING and regions.kind[legs] == SALIENT_ONLY
    assert regions.kind[rock] == SALIENT_ONLY and regions.kind[small] == MOVING_ONLY
    assert regions.object_id[body] == regions.object_id[legs] == 1 and regions.object_id[small] == 2
    assert regions.features.shape == (regions.count, len(FEATURES))
    # motion is the judge: the rock's blob holds no moving pixel, so no model may keep it
    assert not eligible(regions)[rock] and eligible(regions)[legs]


def test_the_rule_keeps_the_moving_animal_whole_and_not_the_rock():
    regions = _scene()
    keep = decide(regions, RegionRule().prob(regions.features), 0.5)
    labels = fused_labels(regions, keep)
    assert labels[15, 20] == 1 and labels[27, 20] == 1  # body and legs
    assert labels[47, 50] == 0  # the static rock


def test_with_nothing_kept_the_moving_regions_fall_back():
    regions = _scene()
    keep = decide(regions, np.zeros(regions.count, np.float32), 0.5, fallback=True)
    assert list(regions.kind[keep]) and SALIENT_ONLY not in regions.kind[keep]
    assert not decide(regions, np.zeros(regions.count, np.float32), 0.5, fallback=False).any()


def test_a_region_model_round_trips_and_refuses_other_features(tmp_path):
    rng = np.random.default_rng(0)
    layers = [(rng.normal(size=(4, len(FEATURES))).astype(np.float32), rng.normal(size=4).astype(np.float32)),
              (rng.normal(size=(1, 4)).astype(np.float32), np.zeros(1, np.float32))]
    mean, std = np.zeros(len(FEATURES), np.float32), np.ones(len(FEATURES), np.float32)
    path = tmp_path / "m.safetensors"
    save_region_model(path, mean, std, layers, {"threshold": 0.4})
    model = RegionModel(path)
    x = rng.normal(size=(5, len(FEATURES))).astype(np.float32)
    np.testing.assert_allclose(model.prob(x), mlp_prob(x, mean, std, layers))
    assert model.threshold == pytest.approx(0.4)
    from safetensors.numpy import load_file, save_file

    save_file(load_file(str(path)), str(tmp_path / "other.safetensors"),
              metadata={"format": "motionseg_trt.region_model", "features": '["a", "b"]'})
    with pytest.raises(ModelFileError, match="trained on features"):
        RegionModel(tmp_path / "other.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="cannot read region model"):
        RegionModel(tmp_path / "junk.safetensors")
