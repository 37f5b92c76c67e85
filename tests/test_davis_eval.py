"""The accuracy benchmark end to end on a tiny generated DAVIS-like folder (never the real data)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from _davis_like import write_davis_like

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import davis_eval  # noqa: E402


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_davis_like(tmp_path_factory.mktemp("davis_like"))


@pytest.mark.parametrize("mode", [["--direct"], [], ["--max-frames", "8"]])
def test_benchmark_scores_the_engine(dataset, tmp_path, capsys, mode):
    out = tmp_path / "result.json"
    rc = davis_eval.main([str(dataset), "--window", "8", "--stride", "4", "--json", str(out)] + mode)
    assert rc == 0
    result = json.loads(out.read_text())
    seq = result["sequences"][0]
    assert seq["seq"] == "pan-square"
    assert seq["frames"] == (8 if "--max-frames" in mode else 12)
    # the moving square is found: far above what an empty or full prediction would score
    assert seq["J"] > 0.6 and seq["F"] > 0.5
    assert result["mean"]["JF"] == pytest.approx((seq["J"] + seq["F"]) / 2)
    assert set(seq["stage_ms_per_frame"]) >= {"decode", "tracks", "motion", "masks"}
    printed = capsys.readouterr().out
    assert "pan-square" in printed and "J&F" in printed


def test_missing_data_folder_is_a_clear_error(tmp_path, capsys):
    assert davis_eval.main([str(tmp_path / "nope")]) == 3
    assert "no data folder" in capsys.readouterr().err
