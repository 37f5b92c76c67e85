"""Error messages in the words of the Python API: the engine's messages name the command line's flags
(``use --overwrite``, ``--device cuda: ...``, ``--option geo_treshold``); :func:`python_wording`
rewrites them as the keyword arguments of :func:`motionseg_trt.segment` (``overwrite=True``,
``device="cuda"``, ``geo_treshold``). The dictionary is the ``run`` parser itself (each flag's
``dest``, choices and kind), so a flag added to the command line is translated too.
"""
from __future__ import annotations

import argparse
import functools
import re

# flags whose keyword is not their dest
_KEYWORDS = {"--no-overlay": "write_overlay=False", "--no-progress": "progress=False", "--quiet": "progress=False"}
_PHRASES = {"`motionseg-trt run --list-options`": "`motionseg_trt.list_options()`",
            "motionseg-trt run --list-options": "motionseg_trt.list_options()"}
_FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)(?:(\s+)([^\s,;:()`]+))?")


@functools.lru_cache(maxsize=1)
def _run_flags() -> dict[str, argparse.Action]:
    from .run import register

    sub = argparse.ArgumentParser().add_subparsers()
    register(sub)
    parser = sub.choices["run"]
    return {flag: action for action in parser._actions for flag in action.option_strings if flag.startswith("--")}


def _keyword(flag: str, action: argparse.Action, value: str | None) -> tuple[str, bool]:
    """The keyword for ``flag`` (and whether it took ``value``)."""
    if flag in _KEYWORDS:
        return _KEYWORDS[flag], False
    if flag == "--option":
        return (value, True) if value else ("a stage option", False)
    if action.nargs == 0:  # a switch
        return f"{action.dest}=True", False
    if value is not None and ((action.choices and value in action.choices) or value.isupper()):
        return (f"{action.dest}={value!r}" if action.choices else f"{action.dest}={value}"), True
    return action.dest, False


def python_wording(message: str) -> str:
    """``message`` with every flag of ``motionseg-trt run`` written as the keyword argument it is."""
    for phrase, words in _PHRASES.items():
        message = message.replace(phrase, words)
    flags = _run_flags()

    def rewrite(match: re.Match) -> str:
        flag, space, value = match.group(1), match.group(2) or "", match.group(3)
        action = flags.get(flag)
        if action is None:
            return match.group(0)
        words, took = _keyword(flag, action, value)
        return words if took else words + (space + value if value is not None else "")

    return _FLAG.sub(rewrite, message)
