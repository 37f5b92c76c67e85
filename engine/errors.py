"""User-facing errors: the CLI prints them as one line (no traceback) and exits with ``exit_code``.

Exit codes (documented in the README):
  0  success
  1  unexpected internal error (a traceback is printed: that is a bug)
  2  bad command line (argparse, or a --option value of the wrong type)
  3  bad input: missing file, not a video, no video stream, zero frames
  4  output folder exists and is not empty (use --overwrite)
  5  missing or mismatching model file / checkpoint / engine
  6  a runtime or dependency is not available on this machine (e.g. TensorRT, network)
  130 interrupted (Ctrl-C); files already completed are kept, nothing half-written is left
"""


class MotionSegError(Exception):
    exit_code = 1


class OptionError(MotionSegError):
    exit_code = 2


class InputError(MotionSegError):
    exit_code = 3


class OutputExistsError(MotionSegError):
    exit_code = 4


class ModelFileError(MotionSegError):
    exit_code = 5


class UnavailableError(MotionSegError):
    exit_code = 6
