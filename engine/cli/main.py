"""``motionseg-trt`` command line. Each sub-command lives in its own module with
``register(subparsers)`` and ``main(args) -> int``; heavy imports happen inside ``main``."""
from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import MotionSegError

# sub-command name -> module under motionseg_trt.cli
COMMANDS = {
    "run": "run",
    "build": "build",
    "download": "download",
    "train": "train",
    "eval": "evaluate",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="motionseg-trt",
        description="Find and segment every object that moves on its own in a video.",
    )
    parser.add_argument("--version", action="version", version=f"motionseg-trt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in COMMANDS.items():
        try:
            mod = importlib.import_module(f"{__package__}.{module}")
        except ModuleNotFoundError as exc:  # a sub-command whose module is not written yet
            if exc.name != f"{__package__}.{module}":
                raise
            continue
        mod.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MotionSegError as exc:
        print(f"motionseg-trt: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("motionseg-trt: interrupted; completed files are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
