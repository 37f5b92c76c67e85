"""Stage settings (``--option KEY=VALUE``): declared once each, with a default inside its own limits;
converted to their type and checked; an unknown key fails before any work, naming the closest key;
``run --list-options`` prints them all with the stage that owns each."""
from __future__ import annotations

import math

import pytest
from _video import make_pan_frames, write_video

from motionseg_trt.cli.main import main
from motionseg_trt.config import RunConfig
from motionseg_trt.errors import OptionError
from motionseg_trt.options import ENGINE_OPTIONS, Option, check_options, declared_options, read_options


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("opts") / "clip.mp4")
    write_video(path, make_pan_frames(8, (96, 64), seed=3).frames)
    return path


def test_every_option_is_declared_once_with_a_default_inside_its_limits():
    rows = declared_options()
    names = [o.name for _, o in rows]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    owners = {owner for owner, _ in rows}
    assert {"engine", "tracker flow", "labeller geometric", "labeller learned", "densifier embedded",
            "tracker bootstapir", "features official", "labeller official", "densifier sam2"} <= owners
    for _, option in rows:
        assert option.help, option.name
        # a default outside its own limits would refuse to run with no option given
        expected = option.parse(option.default) if option.parse and option.default is not None else option.default
        assert read_options(RunConfig(), [option])[option.name] == expected


def test_values_convert_to_the_declared_type():
    opts = [Option("f", 0.5, "f"), Option("i", 3, "i"), Option("b", True, "b"), Option("s", "1,4", "s"),
            Option("l", None, "l", kind=list), Option("n", None, "n", kind=int)]
    got = read_options(RunConfig(extra={"f": 2, "i": 4.0, "b": "false", "s": "2,8", "l": "cuda, cpu"}), opts)
    assert got == {"f": 2.0, "i": 4, "b": False, "s": "2,8", "l": ["cuda", "cpu"], "n": None}
    assert read_options(RunConfig(), opts)["i"] == 3
    for bad in ({"i": 2.5}, {"b": "maybe"}, {"f": "x"}):
        with pytest.raises(OptionError, match="expected"):
            read_options(RunConfig(extra=bad), opts)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "nan", "inf"])
def test_non_finite_floats_are_refused(value):
    with pytest.raises(OptionError, match="finite"):
        read_options(RunConfig(extra={"f": value}), [Option("f", 0.5, "f")])


def test_limits_are_checked_with_a_message_that_says_them():
    for option, value, needle in ((Option("f", 0.5, "", minimum=0.0, maximum=0.9), 1.0, "at most 0.9"),
                                  (Option("i", 3, "", minimum=2), 1, "at least 2"),
                                  (Option("s", "a", "", choices=("a", "c")), "b", "choose one of a, c"),
                                  (Option("p", 1.0, "", minimum=0.0, positive=True), 0.0, "at least 0.0 and above 0")):
        with pytest.raises(OptionError, match=needle):
            read_options(RunConfig(extra={option.name: value}), [option])
    inclusive = Option("f", 0.5, "", minimum=0.0, maximum=1.0)
    assert read_options(RunConfig(extra={"f": 1.0}), [inclusive]) == {"f": 1.0}


def test_a_stored_default_replaces_the_declared_one():
    option = Option("t", 0.5, "", minimum=0.0, maximum=1.0)
    assert read_options(RunConfig(), [option], defaults={"t": 0.95}) == {"t": 0.95}
    assert read_options(RunConfig(extra={"t": 0.7}), [option], defaults={"t": 0.95}) == {"t": 0.7}


def test_unknown_key_names_the_closest_one():
    with pytest.raises(OptionError, match="geo_treshold: no stage has this setting; did you mean geo_threshold"):
        check_options(RunConfig(extra={"geo_treshold": 0.3}))
    with pytest.raises(OptionError, match="no stage has this setting \\("):
        check_options(RunConfig(extra={"zzzzzz": 1}))
    with pytest.raises(OptionError, match="at most 1.0"):  # values of keys of any stage, up front
        check_options(RunConfig(extra={"learned_threshold": 1.5}))
    check_options(RunConfig(extra={"random_weights": True, "sam2_image_size": 256}))


def test_unknown_key_fails_before_anything_is_written(tmp_path, capsys, small_clip):
    out = tmp_path / "o"
    code = main(["run", small_clip, "--out", str(out), "--no-progress", "--option", "fill_sigmaa=2"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == ["motionseg-trt: error: --option fill_sigmaa: no stage has this setting; "
                                        "did you mean fill_sigma? (`motionseg-trt run --list-options` lists them)"]
    assert not out.exists()
    # also before the input is opened: a missing input is not reported first
    assert main(["run", str(tmp_path / "missing.mp4"), "--out", str(out), "--option", "nope=1"]) == 2


def test_list_options_prints_every_option_with_its_stage(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--list-options"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for owner, option in declared_options():
        line = next(line for line in text.splitlines() if line.startswith(option.name + " "))
        assert f"[{owner}]" in line and "default" in line
        assert option.limits() in line
    assert "one of auto, homography, fundamental" in text
    assert {o.name for o in ENGINE_OPTIONS} <= set(text.split())
