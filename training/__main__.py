"""``python -m motionseg_training ...`` = ``motionseg-trt train ...``."""
import argparse
import sys

from .cli import main, register


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m motionseg_training")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(["train"] + list(sys.argv[1:] if argv is None else argv))
    return main(args)


if __name__ == "__main__":
    sys.exit(_main())
