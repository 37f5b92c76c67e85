"""``motionseg-trt eval RESULTS GT``: J, F and J&F of segmentation results against ground-truth
masks, by the DAVIS protocol (see :mod:`motionseg_trt.evaluation`)."""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from ..errors import InputError, OutputExistsError

DEFAULT_BOUND_TH = 0.008  # = evaluation.DEFAULT_BOUND_TH; not imported, to keep the CLI light


def _bound_th(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval", help="score results against ground-truth masks (DAVIS J, F, J&F)",
        description="Score segmentation masks against ground truth by the DAVIS protocol: J (region IoU), "
                    "F (boundary F-measure) and J&F per sequence and their means over sequences, in percent. "
                    "Masks are binarised (any object id is foreground). RESULTS: a `motionseg-trt run` output "
                    "folder (its masks/), a folder of PNG masks, or a folder of such folders matched to GT by "
                    "sequence name. GT: a folder of PNG masks (0/255 or indexed), or a folder of such folders "
                    "(<seq>/*.png or <seq>/masks/*.png).")
    p.add_argument("results", metavar="RESULTS", help="run output folder, folder of PNG masks, or a folder of either")
    p.add_argument("gt", metavar="GT", help="ground-truth folder of PNG masks, or a folder of sequence folders")
    p.add_argument("--json", metavar="FILE",
                   help='also write {"sequences": {NAME: {"J", "F", "J&F"}}, "mean": {...}} (percent) here')
    p.add_argument("--skip-first-last", action="store_true",
                   help="leave out each sequence's first and last frame, as the DAVIS-2016 toolkit does "
                        "(default: every frame is scored)")
    p.add_argument("--bound-th", type=_bound_th, default=DEFAULT_BOUND_TH, metavar="T",
                   help=f"boundary matching distance: a fraction of the image diagonal if < 1, else pixels "
                        f"(default {DEFAULT_BOUND_TH})")
    p.set_defaults(func=main)


def main(args) -> int:
    from ..evaluation.folders import match_sequences

    if args.json:  # checked before the scoring, not after it
        from ..io.output_dir import check_output_path

        if Path(args.json).is_dir():
            raise OutputExistsError(f"--json {args.json} is a folder; give a file name")
        check_output_path(str(Path(args.json).parent), "--json folder")
    sequences, warnings = match_sequences(Path(args.results), Path(args.gt))
    for warning in warnings:
        print(f"motionseg-trt: warning: {warning}", file=sys.stderr)
    scores = score_all(sequences, args.bound_th, args.skip_first_last)
    print(table(scores))
    print(f"{sum(s.frames for s in scores)} frames scored; bound_th {args.bound_th:g}; "
          + ("first and last frame of each sequence left out" if args.skip_first_last else "all frames"))
    if args.json:
        write_json(Path(args.json), scores, bound_th=args.bound_th, skip_first_last=args.skip_first_last)
    return 0


def score_all(sequences, bound_th: float, skip_first_last: bool) -> list:
    """Every sequence's :class:`SequenceScore`, reading its masks one pair at a time."""
    from ..evaluation import frames_to_score, score_sequence
    from ..evaluation.folders import read_pair

    progress = _Progress(len(sequences)) if sys.stderr.isatty() else None
    scores = []
    for seq in sequences:
        keep = frames_to_score(len(seq.pairs), skip_first_last)
        if not keep:
            raise InputError(f"{seq.name}: {len(seq.pairs)} frame(s), none left once the first and last are "
                             "left out (--skip-first-last)")
        if progress:
            progress.show(seq.name)
        pairs = (read_pair(seq.name, *seq.pairs[i]) for i in keep)
        scores.append(score_sequence(seq.name, pairs, bound_th))
    if progress:
        progress.clear()
    return scores


def write_json(path: Path, scores, **settings) -> None:
    from ..evaluation import report
    from ..io.atomic import write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(str(path), json.dumps(report(scores, **settings), indent=2) + "\n")


def table(scores) -> str:
    from ..evaluation import mean_scores

    width = max([len("sequence"), len("mean"), *(len(s.name) for s in scores)])
    lines = [f"{'sequence':<{width}}  {'frames':>6}  {'J':>6}  {'F':>6}  {'J&F':>6}"]
    lines.append("-" * len(lines[0]))
    for s in scores:
        lines.append(_row(s.name, s.frames, s.as_dict(), width))
    lines.append("-" * len(lines[0]))
    lines.append(_row("mean", sum(s.frames for s in scores), mean_scores(scores), width))
    return "\n".join(lines)


def _row(name: str, frames: int, values: dict, width: int) -> str:
    return f"{name:<{width}}  {frames:>6}  {values['J']:6.1f}  {values['F']:6.1f}  {values['J&F']:6.1f}"


class _Progress:
    """One line on stderr, rewritten in place (only shown when stderr is a terminal)."""

    def __init__(self, total: int):
        self.total = total
        self.done = 0
        self.width = 0

    def show(self, name: str) -> None:
        self.done += 1
        text = f"scoring {self.done}/{self.total}: {name}"
        print("\r" + text.ljust(self.width), end="", file=sys.stderr, flush=True)
        self.width = len(text)

    def clear(self) -> None:
        print("\r" + " " * self.width + "\r", end="", file=sys.stderr, flush=True)
