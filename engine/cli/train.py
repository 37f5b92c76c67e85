"""``motionseg-trt train``: training lives apart from the engine, in the ``motionseg_training``
package (``training/`` of a source checkout). When it is installed it registers the command (all its
flags); otherwise the command says in one line how to get it."""
from __future__ import annotations

import importlib.util

from ..errors import UnavailableError

TRAINING_PACKAGE = "motionseg_training"
MISSING = ("training is not part of this installation: from a source checkout of motionseg-trt, "
           "pip install -e ./training (tools/dev-setup.sh does)")


def register(subparsers) -> None:
    if importlib.util.find_spec(TRAINING_PACKAGE) is not None:
        from motionseg_training.cli import register as register_training

        register_training(subparsers)
        return
    # no option prefix: whatever follows (--out DIR ...) is taken as is, and the command says what is missing
    p = subparsers.add_parser("train", help="train the embedded motion classifier (needs the training package)",
                              description=MISSING, prefix_chars="\0", add_help=False)
    p.add_argument("args", nargs="*")
    p.set_defaults(func=_missing)


def _missing(args) -> int:
    raise UnavailableError(MISSING)
