"""``python -m motionseg_training ...`` = ``motionseg-trt train ...`` (the same command line, so the
same one-line errors, exit codes and signal handling)."""
import sys


def _main(argv=None) -> int:
    from motionseg_trt.cli.main import main

    return main(["train"] + list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(_main())
