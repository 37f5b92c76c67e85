"""``motionseg-trt`` command line. Each sub-command lives in its own module with
``register(subparsers)`` and ``main(args) -> int``; heavy imports happen inside ``main``."""
from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import FileSystemError, MotionSegError, os_error_message
from ..interrupts import exit_code as interrupt_exit_code
from ..interrupts import signals_as_interrupts

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
    # SIGINT and SIGTERM clean up like Ctrl-C from the first moment (imports included) to the last; as
    # a program (no argv given), a signal after the work is done is ignored while the interpreter exits
    with signals_as_interrupts(ignore_after=argv is None):
        try:
            parser = build_parser()
            args = parser.parse_args(argv)
            return int(args.func(args) or 0)
        except MotionSegError as exc:
            return _error(str(exc), exc.exit_code)
        except BrokenPipeError:  # stdout closed by the reader (`| head`): nothing more to say there
            _silence_stdout()
            return _error("standard output was closed (broken pipe)", FileSystemError.exit_code)
        except OSError as exc:  # the file system refused (permissions, read-only, disk full ...)
            return _error(os_error_message(exc), FileSystemError.exit_code)
        except MemoryError:
            return _error("out of memory (a smaller --window or --max-side, or no --offline, needs less)",
                          FileSystemError.exit_code)
        except KeyboardInterrupt as exc:
            _say("motionseg-trt: interrupted; completed files are kept")
            return interrupt_exit_code(exc)


def _silence_stdout() -> None:
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _error(message: str, code: int) -> int:
    """One line on stderr, whatever the message holds (a library's multi-line text included)."""
    line = " ".join(message.split()) or "unknown error"
    _say(f"motionseg-trt: error: {line[:2000]}")
    return code


def _say(line: str) -> None:
    try:
        print(line, file=sys.stderr)
    except (OSError, ValueError):  # stderr closed: the exit code still says it
        pass


if __name__ == "__main__":
    sys.exit(main())
