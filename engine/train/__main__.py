"""``python -m motionseg_trt.train ...`` = ``motionseg-trt train ...``."""
import argparse
import sys

from ..cli.train import main, register


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m motionseg_trt.train")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(["train"] + list(sys.argv[1:] if argv is None else argv))
    return main(args)


if __name__ == "__main__":
    sys.exit(_main())
