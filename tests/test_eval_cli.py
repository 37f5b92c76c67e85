"""``motionseg-trt eval RESULTS GT``: folder layouts, frame matching, the JSON document, the table, and
one-line errors with their exit codes. Masks are generated here (never the real data)."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from PIL import Image

from motionseg_trt.cli.main import main
from motionseg_trt.io.palette import DAVIS_PALETTE

H, W = 40, 40


def square(dx: int = 0) -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    m[10:20, 10 + dx:20 + dx] = 1
    return m


def write_palette(folder, masks, start: int = 0):
    """Result masks as ``run`` writes them: indexed PNGs, DAVIS palette, object ids."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, m in enumerate(masks):
        img = Image.fromarray(m.astype(np.uint8), mode="P")
        img.putpalette(DAVIS_PALETTE.ravel().tolist())
        img.save(folder / f"{start + i:05d}.png")


def write_gray(folder, masks, step: int = 1):
    """Ground truth as DAVIS-2016 ships it: grey 0 / 255."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, m in enumerate(masks):
        Image.fromarray((m > 0).astype(np.uint8) * 255).save(folder / f"{i * step:05d}.png")


def run_eval(capsys, *argv):
    code = main(["eval", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(err: str, needle: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("motionseg-trt: error:") and needle in lines[0], err


@pytest.fixture
def truth(tmp_path):
    """Two GT sequences in the davis16-dev layout (<seq>/masks/) and the Annotations layout (<seq>/*.png)."""
    a = [square()] * 4
    b = [square(), square(), np.zeros((H, W), np.uint8)]
    for seq, masks in (("alpha", a), ("beta", b)):
        write_gray(tmp_path / "gt16" / seq / "masks", masks)
        write_gray(tmp_path / "annotations" / seq, masks)
    return tmp_path


def test_single_run_folder_against_a_plain_gt_folder(truth, tmp_path, capsys):
    run = tmp_path / "runs" / "whatever"
    write_palette(run / "masks", [square() * 2] * 4)  # object id 2: any id is foreground
    (run / "run.json").write_text("{}")
    code, out, err = run_eval(capsys, run, truth / "annotations" / "alpha", "--json", tmp_path / "r.json")
    assert code == 0 and err == ""  # no progress line when stderr is not a terminal
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["sequences"] == {"alpha": {"J": 100.0, "F": 100.0, "J&F": 100.0}}
    assert doc["mean"] == {"J": 100.0, "F": 100.0, "J&F": 100.0}
    assert "alpha" in out and "mean" in out


@pytest.mark.parametrize("layout", ["gt16", "annotations"])
def test_folder_of_runs_against_both_gt_layouts(truth, tmp_path, capsys, layout):
    runs = tmp_path / "runs"
    write_palette(runs / "alpha" / "masks", [square(), square(2), square(), square()])
    write_palette(runs / "beta" / "masks", [square(), square(), np.zeros((H, W), np.uint8)])
    (runs / "notes").mkdir()  # a folder without masks is not a sequence
    code, out, _ = run_eval(capsys, runs, truth / layout, "--json", tmp_path / "r.json")
    assert code == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    assert set(doc) >= {"sequences", "mean"} and list(doc["sequences"]) == ["alpha", "beta"]
    for entry in [*doc["sequences"].values(), doc["mean"]]:
        assert list(entry) == ["J", "F", "J&F"]
    # alpha: one frame of four is the square shifted by 2 px (J 80/120, F 22/40, tests/test_evaluation.py)
    alpha = doc["sequences"]["alpha"]
    assert alpha["J"] == pytest.approx(100 * (3 + 80 / 120) / 4)
    assert alpha["F"] == pytest.approx(100 * (3 + 22 / 40) / 4)
    assert doc["sequences"]["beta"] == {"J": 100.0, "F": 100.0, "J&F": 100.0}  # empty vs empty counts as 1
    assert doc["mean"]["J"] == pytest.approx((alpha["J"] + 100) / 2)
    assert doc["mean"]["J&F"] == pytest.approx((doc["mean"]["J"] + doc["mean"]["F"]) / 2)
    assert doc["frames"] == {"alpha": 4, "beta": 3}
    rows = [line.split() for line in out.splitlines()]
    assert ["alpha", "4", f"{alpha['J']:.1f}", f"{alpha['F']:.1f}", f"{alpha['J&F']:.1f}"] in rows
    assert rows[-2][0] == "mean"


def test_one_run_against_a_collection_is_found_by_name(truth, tmp_path, capsys):
    write_palette(tmp_path / "out" / "beta" / "masks", [square(), square(), square()])
    code, out, err = run_eval(capsys, tmp_path / "out" / "beta", truth / "gt16")
    assert code == 0 and "beta" in out and "alpha" not in out
    assert "1 of 2 ground-truth sequences have no results" in err and "alpha" in err


def test_result_sequence_without_ground_truth_is_an_error(truth, tmp_path, capsys):
    write_palette(tmp_path / "runs" / "alpha" / "masks", [square()] * 4)
    write_palette(tmp_path / "runs" / "gamma" / "masks", [square()] * 4)
    code, _, err = run_eval(capsys, tmp_path / "runs", truth / "gt16")
    assert code == 3
    one_line_error(err, "no ground truth")
    assert "gamma" in err


def test_frame_count_mismatch_is_an_error(truth, tmp_path, capsys):
    write_palette(tmp_path / "run" / "masks", [square()] * 3)
    code, _, err = run_eval(capsys, tmp_path / "run", truth / "annotations" / "alpha")
    assert code == 3
    one_line_error(err, "3 result masks for 4 ground-truth masks")


def test_sparse_ground_truth_is_matched_by_frame_number(tmp_path, capsys):
    results = [square(2)] * 6
    results[0] = results[3] = square()  # the annotated frames 0 and 3 are right, the others not
    write_palette(tmp_path / "run" / "masks", results)
    write_gray(tmp_path / "gt", [square(), square()], step=3)  # 00000.png, 00003.png
    code, out, _ = run_eval(capsys, tmp_path / "run", tmp_path / "gt", "--json", tmp_path / "r.json")
    assert code == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["frames"] == {"gt": 2} and doc["mean"]["J"] == 100.0


def test_size_mismatch_is_an_error(truth, tmp_path, capsys):
    write_palette(tmp_path / "run" / "masks", [np.zeros((H, W + 2), np.uint8)] * 4)
    code, _, err = run_eval(capsys, tmp_path / "run", truth / "annotations" / "alpha")
    assert code == 3
    one_line_error(err, "is 42x40 but ground truth 00000.png is 40x40")


def test_skip_first_last(tmp_path, capsys):
    results = [np.zeros((H, W), np.uint8), square(), square(), np.zeros((H, W), np.uint8)]
    write_palette(tmp_path / "run" / "masks", results)
    write_gray(tmp_path / "gt", [square()] * 4)
    code, out, _ = run_eval(capsys, tmp_path / "run", tmp_path / "gt", "--json", tmp_path / "all.json")
    assert code == 0 and json.loads((tmp_path / "all.json").read_text())["mean"]["J"] == 50.0
    assert "all frames" in out
    code, out, _ = run_eval(capsys, tmp_path / "run", tmp_path / "gt", "--skip-first-last",
                            "--json", tmp_path / "inner.json")
    doc = json.loads((tmp_path / "inner.json").read_text())
    assert code == 0 and doc["mean"]["J"] == 100.0 and doc["frames"] == {"gt": 2}
    assert doc["settings"] == {"bound_th": 0.008, "skip_first_last": True}
    assert "first and last frame of each sequence left out" in out


def test_too_short_for_skip_first_last(tmp_path, capsys):
    write_palette(tmp_path / "run" / "masks", [square()] * 2)
    write_gray(tmp_path / "gt", [square()] * 2)
    code, _, err = run_eval(capsys, tmp_path / "run", tmp_path / "gt", "--skip-first-last")
    assert code == 3
    one_line_error(err, "none left")


def test_bound_th_option(tmp_path, capsys):
    write_palette(tmp_path / "run" / "masks", [square(2)])
    write_gray(tmp_path / "gt", [square()])
    code, _, _ = run_eval(capsys, tmp_path / "run", tmp_path / "gt", "--bound-th", "2", "--json", tmp_path / "r.json")
    assert code == 0 and json.loads((tmp_path / "r.json").read_text())["mean"]["F"] == 100.0  # 2 px: every pixel matched
    for bad in ("0", "-1", "abc"):
        with pytest.raises(SystemExit) as exc:
            main(["eval", str(tmp_path / "run"), str(tmp_path / "gt"), "--bound-th", bad])
        assert exc.value.code == 2
    assert "--bound-th" in capsys.readouterr().err


def test_missing_and_empty_folders(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    write_gray(tmp_path / "gt", [square()])
    code, _, err = run_eval(capsys, tmp_path / "nope", tmp_path / "gt")
    assert code == 3
    one_line_error(err, "results folder not found")
    code, _, err = run_eval(capsys, tmp_path / "empty", tmp_path / "gt")
    assert code == 3
    one_line_error(err, "no PNG masks in results folder")
    code, _, err = run_eval(capsys, tmp_path / "gt", tmp_path / "empty")
    assert code == 3
    one_line_error(err, "no PNG masks in ground-truth folder")


def test_json_path_that_is_a_folder(tmp_path, capsys):
    write_gray(tmp_path / "gt", [square()])
    write_palette(tmp_path / "run", [square()])
    code, out, err = run_eval(capsys, tmp_path / "run", tmp_path / "gt", "--json", tmp_path)
    assert code == 4 and out == ""
    one_line_error(err, "is a folder")


def test_unreadable_mask_is_an_input_error(tmp_path, capsys):
    write_gray(tmp_path / "gt", [square()])
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "00000.png").write_bytes(b"not a png")
    code, _, err = run_eval(capsys, tmp_path / "run", tmp_path / "gt")
    assert code == 3
    one_line_error(err, "cannot read mask")


def test_rgb_ground_truth(tmp_path, capsys):
    """Some data sets ship colour masks: any non-black pixel is foreground."""
    (tmp_path / "gt").mkdir()
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[10:20, 10:20] = (0, 128, 0)
    Image.fromarray(rgb).save(tmp_path / "gt" / "00000.png")
    write_palette(tmp_path / "run", [square()])
    code, _, _ = run_eval(capsys, tmp_path / "run", tmp_path / "gt", "--json", tmp_path / "r.json")
    assert code == 0 and json.loads((tmp_path / "r.json").read_text())["mean"]["J&F"] == 100.0


def test_progress_only_on_a_terminal(tmp_path, capsys, monkeypatch):
    write_palette(tmp_path / "run", [square()])
    write_gray(tmp_path / "gt", [square()])
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = run_eval(capsys, tmp_path / "run", tmp_path / "gt")
    assert code == 0 and "scoring 1/1: gt" in err and "scoring" not in out
