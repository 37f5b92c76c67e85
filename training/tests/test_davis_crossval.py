"""The DAVIS training package's bookkeeping: folds hold whole sequences, and a stage cache is named by
the settings a run uses (the same file whether an option is given at its default or left out)."""
from pathlib import Path

from motionseg_training.davis.cache import cache_path
from motionseg_training.davis.crossval import folds_of


def test_folds_are_whole_sequences_each_held_out_once():
    names = [f"s{i:02d}" for i in range(30)]
    folds = folds_of(names, 5)
    assert [len(f) for f in folds] == [6] * 5 and sorted(sum(folds, [])) == names


def test_a_cache_is_named_by_the_effective_settings():
    from motionseg_trt.features.appearance.stage import OPTIONS

    defaults = {o.name: o.default for o in OPTIONS}
    seq = Path("data/bear")
    assert cache_path(Path("c"), seq, {}) == cache_path(Path("c"), seq, defaults)
    assert cache_path(Path("c"), seq, {"appearance_every": 4}) != cache_path(Path("c"), seq, {})
