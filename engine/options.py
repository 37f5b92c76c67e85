"""Stage settings (``--option KEY=VALUE``, ``RunConfig.extra``): each one declared once, with its
default, its limits and one line of help, by the stage that reads it (its class's ``OPTIONS``) or,
for settings of the engine itself, in :data:`ENGINE_OPTIONS` below.

* :func:`read_options` is how a stage reads its settings: the given value converted to the type of
  the default (or ``kind``), checked against the limits, else the default;
* :func:`check_options` runs before any work: a key that nothing declares (a misspelt one) or a value
  that breaks its declaration is an :class:`~motionseg_trt.errors.OptionError` (exit code 2) that
  names the closest declared key;
* :func:`declared_options` lists them all, with the stage that owns each (``run --list-options``).
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from .errors import OptionError


@dataclass(frozen=True)
class Option:
    """One setting. ``kind`` is the type of its values when the default does not say it (a default
    of None means "not set": the reader decides); ``parse`` turns a checked value into what the stage
    uses and raises ``ValueError`` with the reason when it cannot."""

    name: str
    default: Any
    help: str
    choices: Optional[tuple] = None
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    positive: bool = False  # above 0
    kind: Optional[type] = None
    parse: Optional[Callable[[Any], Any]] = None

    @property
    def type(self) -> type:
        return self.kind or type(self.default)

    def limits(self) -> str:
        """The limits in words (``--list-options``), '' when there are none."""
        parts = []
        if self.choices is not None:
            parts.append("one of " + ", ".join(map(str, self.choices)))
        if self.minimum is not None:
            parts.append(f">= {self.minimum}")
        if self.maximum is not None:
            parts.append(f"<= {self.maximum}")
        if self.positive:
            parts.append("> 0")
        return ", ".join(parts)

    def convert(self, value):
        """``value`` as this option's type, within its limits; ``OptionError`` otherwise."""
        if value is None and self.default is None:
            return None
        out = _as_type(self, value)
        if self.choices is not None and out not in self.choices:
            raise OptionError(f"--option {self.name}={value}: choose one of {', '.join(map(str, self.choices))} "
                              f"(default {self.default!r})")
        if self.minimum is not None or self.maximum is not None or self.positive:
            if ((self.minimum is not None and out < self.minimum) or (self.maximum is not None and out > self.maximum)
                    or (self.positive and out <= 0)):
                bounds = [f"at least {self.minimum}"] * (self.minimum is not None)
                bounds += [f"at most {self.maximum}"] * (self.maximum is not None) + ["above 0"] * self.positive
                raise OptionError(f"--option {self.name}={value}: must be {' and '.join(bounds)} "
                                  f"(default {self.default!r})")
        if self.parse is not None:
            try:
                return self.parse(out)
            except ValueError as exc:
                raise OptionError(f"--option {self.name}={value}: {exc}") from None
        return out


def _as_type(option: Option, value):
    kind = option.type
    try:
        if kind is bool and isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            return value.lower() in ("true", "1")
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        if kind is list:  # a comma-separated string, or a sequence given through the Python API
            return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)
        out = kind(value)
    except (TypeError, ValueError):
        raise OptionError(f"--option {option.name}={value}: expected {kind.__name__} "
                          f"(default {option.default!r})") from None
    if kind is float and not math.isfinite(out):  # nan passes every comparison; inf every minimum
        raise OptionError(f"--option {option.name}={value}: expected a finite number (default {option.default!r})")
    return out


def read_options(config, options: Sequence[Option], defaults: Optional[Mapping[str, Any]] = None) -> dict:
    """Every option of ``options`` for ``config``: ``{name: value}``. ``defaults`` replaces some
    declared defaults (e.g. a threshold stored with the weights)."""
    extra = config.extra if config.extra is not None else {}
    out = {}
    for option in options:
        if defaults and option.name in defaults:
            option = _with_default(option, defaults[option.name])
        given = extra.get(option.name)  # counted as read: the run warns about keys no stage read
        out[option.name] = option.convert(option.default if given is None else given)
    return out


def read_option(config, options: Sequence[Option], name: str):
    """One option of ``options`` (by name) for ``config``."""
    return read_options(config, [o for o in options if o.name == name])[name]


def _with_default(option: Option, default) -> Option:
    from dataclasses import replace

    return replace(option, default=default)


def defaults_of(options: Iterable[Option]) -> dict:
    return {o.name: o.default for o in options}


# Settings of the engine itself rather than of one stage: the pipeline's worker threads, the runtime
# layer, and the networks of every stage (weights, graph shapes).
ENGINE_OPTIONS = (
    Option("background_writer", True, "write the outputs on a worker thread (false: on the main thread, "
                                      "for A/B timing)"),
    Option("prefetch_frames", 8, "frames decoded ahead on a worker thread (0: none)", minimum=0),
    Option("progress_interval", 10.0, "seconds between the progress lines printed when stderr is not a "
                                      "terminal", positive=True),
    Option("ort_providers", None, "ONNX Runtime execution providers in order, comma-separated (cpu, cuda, "
                                  "tensorrt); default: cuda,cpu with --device cuda, else cpu", kind=list),
    Option("random_weights", False, "random weights of the right shapes for every network given no weight "
                                    "file (plumbing and speed tests only, no quality)"),
    Option("clip_frames", None, "frames the classifier graphs are shaped for (default: --window; an "
                                "offline run of a long clip needs the clip's length)", kind=int, minimum=2),
)


# Parts of the engine with settings that are not stages: which frames the stages see, and which objects
# are written ("owner", "module:OPTIONS").
ENGINE_PARTS = (
    ("timeline", "motionseg_trt.io.timeline:OPTIONS"),
    ("cuts", "motionseg_trt.io.cuts:OPTIONS"),
    ("object filter", "motionseg_trt.masks.objects:OPTIONS"),
)


def declared_options(extra_owners: Iterable = ()) -> list[tuple[str, Option]]:
    """``(owner, option)`` for every declared option: the engine's (and its parts'), then each
    registered stage's in registry order (``owner`` is e.g. ``labeller geometric``). ``extra_owners``
    adds ``(owner, options)`` pairs (stages given through the Python API)."""
    import importlib

    from .stages import STAGES

    rows = [("engine", o) for o in ENGINE_OPTIONS]
    for owner, target in ENGINE_PARTS:
        module, _, attr = target.partition(":")
        rows += [(owner, o) for o in getattr(importlib.import_module(module), attr)]
    for stage in STAGES:
        rows += [(f"{stage.kind} {stage.name}", o) for o in stage.options()]
    for owner, options in extra_owners:
        rows += [(owner, o) for o in options]
    return rows


def check_options(config, extra_owners: Iterable = ()) -> None:
    """Every key of ``config.extra`` is declared and its value fits its declaration; else
    ``OptionError`` naming the closest declared key. Reads nothing on the stages' behalf (the
    unread-key warning of a run still sees what the stages themselves read)."""
    extra = config.extra if config.extra is not None else {}
    declared = {}
    for _, option in declared_options(extra_owners):
        declared.setdefault(option.name, option)
    for key in list(dict.keys(extra)):
        option = declared.get(key)
        if option is None:
            close = difflib.get_close_matches(key, list(declared), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise OptionError(f"--option {key}: no stage has this setting{hint} "
                              f"(`motionseg-trt run --list-options` lists them)")
        value = dict.get(extra, key)
        if value is not None:
            option.convert(value)


def format_options(rows: list[tuple[str, Option]]) -> str:
    """The table ``run --list-options`` prints: name, default, limits, owner, help."""
    lines = []
    width = max(len(o.name) for _, o in rows)
    for owner, option in rows:
        default = "(none)" if option.default is None else repr(option.default)
        limits = option.limits()
        lines.append(f"{option.name:<{width}}  default {default}" + (f"; {limits}" if limits else "")
                     + f"  [{owner}]\n{'':<{width}}  {option.help}")
    return "\n".join(lines)
